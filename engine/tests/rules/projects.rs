//! A project's code is unique among the projects a platform sees.

use fed_crdt::registry::projects::{Access, Project};
use fed_engine::projects::{ProjectOp, ProjectPatch};
use fed_engine::EngineError;

use crate::Cluster;

fn create(c: &mut Cluster, i: usize, code: &str) -> Result<fed_crdt::ids::DocId, EngineError> {
    let project = Project {
        code: code.into(),
        name: format!("Project {code}"),
        ..Project::default()
    };
    c.project(i, ProjectOp::Create(Box::new(project)))
        .map(|e| e.id)
}

fn recode(
    c: &mut Cluster,
    i: usize,
    id: fed_crdt::ids::DocId,
    code: &str,
) -> Result<(), EngineError> {
    let patch = ProjectPatch {
        code: Some(code.into()),
        ..ProjectPatch::default()
    };
    c.project(i, ProjectOp::Update(id, Box::new(patch)))
        .map(drop)
}

#[test]
fn a_code_already_in_use_is_refused_naming_the_field_and_the_project() {
    let mut c = Cluster::new(2);
    c.connect_all();
    let first = c.create_project(0, "COHORT");
    let Err(EngineError::Conflict(reason)) = create(&mut c, 0, "COHORT") else {
        panic!("a second COHORT was created");
    };
    assert!(reason.contains("field `code`"), "{reason}");
    assert!(reason.contains(&first.to_string()), "{reason}");
    // Renaming onto a used code is refused too; keeping one's own code is not a clash.
    let second = c.create_project(0, "OTHER");
    assert!(matches!(
        recode(&mut c, 0, second, "COHORT"),
        Err(EngineError::Conflict(_))
    ));
    recode(&mut c, 0, first, "COHORT").expect("its own code");

    // A project shared with this platform counts; one it cannot see does not.
    c.create_project(1, "SHARED");
    assert!(
        create(&mut c, 0, "SHARED").is_ok(),
        "node 0 does not see node 1's project"
    );
    let hidden = c.create_project(1, "HIDDEN");
    c.share(1, hidden, 0, Some(Access::Read)).expect("share");
    c.tick();
    assert!(matches!(
        create(&mut c, 0, "HIDDEN"),
        Err(EngineError::Conflict(_))
    ));

    // A deleted project's code is free again.
    c.project(0, ProjectOp::Delete(second)).expect("delete");
    create(&mut c, 0, "OTHER").expect("the code of a deleted project");
}

#[test]
fn a_listing_is_its_own_answer_and_names_an_unknown_federation() {
    let mut c = Cluster::new(2);
    let id = create(&mut c, 0, "LISTED").expect("create");
    let federation = c.federation();
    match c.call(0, fed_engine::Command::ListProjects(federation)) {
        Ok(fed_engine::Answer::Projects(list)) => {
            assert_eq!(list.iter().map(|p| p.id).collect::<Vec<_>>(), [id]);
        }
        other => panic!("a listing answered {other:?}"),
    }
    let unknown = fed_crdt::ids::FederationId([7; 32]);
    match c.call(0, fed_engine::Command::ListProjects(unknown)) {
        Err(EngineError::UnknownFederation(f)) => assert_eq!(f, unknown),
        other => panic!("an unknown federation answered {other:?}"),
    }
}
