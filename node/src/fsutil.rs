//! Small file helpers shared by the node's modules.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `contents` atomically (sibling file, fsync, rename), so a reader
/// never sees a half-written file.
///
/// # Errors
///
/// The I/O error, naming the file.
pub fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
