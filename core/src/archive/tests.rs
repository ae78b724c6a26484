//! Hostile and ordinary archives against `untar_gz`. Each hostile case must fail with
//! UNSAFE_ARCHIVE (or, for what is only skipped, report it) and write nothing outside `dest`.

use super::*;
use crate::error::ErrorKind;
use std::io::Write;
use tar::{EntryType, Header};

/// A raw tar built entry by entry, with names set byte for byte (tar-rs' builder refuses
/// `..`, which is exactly what these tests need to send).
struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    fn new() -> Self {
        RawTar(tar::Builder::new(Vec::new()))
    }

    fn header(name: &[u8], kind: EntryType, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        h
    }

    fn entry(mut self, name: &[u8], kind: EntryType, data: &[u8]) -> Self {
        let h = Self::header(name, kind, data.len() as u64);
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name.as_bytes(), EntryType::Regular, data)
    }

    fn dir(self, name: &str) -> Self {
        self.entry(name.as_bytes(), EntryType::Directory, b"")
    }

    fn link(mut self, name: &str, kind: EntryType, target: &str) -> Self {
        let mut h = Self::header(name.as_bytes(), kind, 0);
        h.as_gnu_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        self.0.append(&h, &b""[..]).unwrap();
        self
    }

    /// A PAX extended header whose `path` record renames the next entry.
    fn pax_path(self, path: &str) -> Self {
        let body = format!(" path={path}\n");
        // The length counts its own digits.
        let mut len = body.len() + 1;
        while format!("{len}").len() + body.len() != len {
            len += 1;
        }
        let rec = format!("{len}{body}");
        self.entry(b"././@PaxHeader", EntryType::XHeader, rec.as_bytes())
    }

    /// A GNU long-name entry naming the next entry.
    fn gnu_long_name(self, name: &str) -> Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.entry(b"././@LongLink", EntryType::GNULongName, &data)
    }

    fn tar(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }

    fn gz(self) -> Vec<u8> {
        gzip(&self.tar())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A sandbox: `root/dest` is where extraction goes; `root/outside` must stay untouched.
struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dest")).unwrap();
        std::fs::create_dir(root.path().join("outside")).unwrap();
        Sandbox { root }
    }
    fn dest(&self) -> std::path::PathBuf {
        self.root.path().join("dest")
    }
    fn run(&self, gz: &[u8], limits: &UntarLimits) -> crate::Result<UntarReport> {
        untar_gz(gz, &self.dest(), "test.tar.gz", limits, None)
    }
    /// Every path under the sandbox root except under dest.
    fn outside_entries(&self) -> Vec<String> {
        walkdir::WalkDir::new(self.root.path())
            .min_depth(1)
            .into_iter()
            .filter_map(|e| e.ok())
            .map(|e| e.path().strip_prefix(self.root.path()).unwrap().to_owned())
            .filter(|p| !p.starts_with("dest"))
            .map(|p| p.display().to_string())
            .collect()
    }
}

fn refused(gz: Vec<u8>, needle: &str) {
    refused_with(gz, &UntarLimits::default(), needle)
}

fn refused_with(gz: Vec<u8>, limits: &UntarLimits, needle: &str) {
    let sb = Sandbox::new();
    let err = sb.run(&gz, limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnsafeArchive, "{err}");
    assert!(
        err.message.contains("test.tar.gz"),
        "names the archive: {err}"
    );
    assert!(err.message.contains(needle), "{needle:?} in: {err}");
    assert_eq!(sb.outside_entries(), vec!["outside".to_string()]);
}

#[test]
fn an_ordinary_tree_is_extracted_with_permission_bits_only() {
    let sb = Sandbox::new();
    let mut tar = RawTar::new().dir("a/").file("a/b.txt", b"hello");
    let mut h = RawTar::header(b"run.sh", EntryType::Regular, 3);
    h.set_mode(0o4755); // setuid is dropped
    h.set_cksum();
    tar.0.append(&h, &b"#!x"[..]).unwrap();
    let r = sb.run(&tar.gz(), &UntarLimits::default()).unwrap();
    assert_eq!((r.files, r.bytes), (2, 8));
    let d = sb.dest();
    assert_eq!(std::fs::read(d.join("a/b.txt")).unwrap(), b"hello");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[test]
fn a_git_archive_global_header_is_metadata_not_a_file() {
    let sb = Sandbox::new();
    let gz = RawTar::new()
        .entry(
            b"pax_global_header",
            EntryType::XGlobalHeader,
            b"52 comment=0123456789012345678901234567890123456789\n",
        )
        .file("x", b"1")
        .gz();
    sb.run(&gz, &UntarLimits::default()).unwrap();
    let names: Vec<_> = std::fs::read_dir(sb.dest())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["x"]);
}

#[test]
fn traversal_with_dotdot_is_refused() {
    refused(RawTar::new().file("../outside/evil", b"x").gz(), "\"..\"");
    refused(
        RawTar::new().file("a/../../outside/evil", b"x").gz(),
        "\"..\"",
    );
}

#[test]
fn absolute_names_are_refused() {
    refused(RawTar::new().file("/tmp/evil", b"x").gz(), "absolute");
}

#[test]
fn pax_and_gnu_long_names_that_escape_are_refused() {
    let long = format!("{}/../../../outside/evil", "d".repeat(120));
    refused(
        RawTar::new().pax_path(&long).file("innocent", b"x").gz(),
        "\"..\"",
    );
    refused(
        RawTar::new()
            .gnu_long_name(&long)
            .file("innocent", b"x")
            .gz(),
        "\"..\"",
    );
    refused(
        RawTar::new()
            .pax_path("/etc/evil")
            .file("innocent", b"x")
            .gz(),
        "absolute",
    );
}

#[test]
fn symlinks_are_skipped_and_reported_and_nothing_is_written_through_them() {
    let sb = Sandbox::new();
    let gz = RawTar::new()
        .link("escape", EntryType::Symlink, "../outside")
        .link("abs", EntryType::Symlink, "/etc")
        // write-through: a file below the link's name lands in a real directory
        .file("escape/evil", b"x")
        .gz();
    let r = sb.run(&gz, &UntarLimits::default()).unwrap();
    assert_eq!(r.skipped_symlink_count, 2);
    assert!(r
        .skipped_symlinks
        .contains(&"escape -> ../outside".to_string()));
    assert!(r.skipped_symlinks.contains(&"abs -> /etc".to_string()));
    assert!(std::fs::symlink_metadata(sb.dest().join("escape"))
        .unwrap()
        .is_dir());
    assert_eq!(sb.outside_entries(), vec!["outside".to_string()]);
}

#[test]
fn inner_symlinks_are_kept_only_when_asked_and_only_inside() {
    let sb = Sandbox::new();
    let keep = UntarLimits {
        keep_inner_symlinks: true,
        ..Default::default()
    };
    let gz = RawTar::new()
        .file("d/target.txt", b"t")
        .link("d/inner", EntryType::Symlink, "target.txt")
        .link("d/up", EntryType::Symlink, "../d/target.txt")
        .link("d/out", EntryType::Symlink, "../../outside")
        .link("d/sneaky", EntryType::Symlink, "inner/../../..")
        .link("abs", EntryType::Symlink, "/etc/passwd")
        .gz();
    let r = sb.run(&gz, &keep).unwrap();
    assert_eq!(r.symlinks, 2);
    assert_eq!(r.skipped_symlink_count, 3, "{:?}", r.skipped_symlinks);
    assert_eq!(std::fs::read(sb.dest().join("d/inner")).unwrap(), b"t");
    assert_eq!(std::fs::read(sb.dest().join("d/up")).unwrap(), b"t");
    assert!(!sb.dest().join("d/out").exists());
}

#[test]
fn hard_links_devices_and_fifos_are_refused() {
    refused(
        RawTar::new().link("h", EntryType::Link, "/etc/passwd").gz(),
        "hard link",
    );
    refused(
        RawTar::new().entry(b"dev", EntryType::Char, b"").gz(),
        "device",
    );
    refused(
        RawTar::new().entry(b"blk", EntryType::Block, b"").gz(),
        "device",
    );
    refused(
        RawTar::new().entry(b"fifo", EntryType::Fifo, b"").gz(),
        "FIFO",
    );
    refused(
        RawTar::new()
            .entry(b"sparse", EntryType::GNUSparse, b"")
            .gz(),
        "",
    );
}

#[test]
fn content_over_the_limit_is_refused() {
    let limits = UntarLimits {
        max_untar_size: 1000,
        ..Default::default()
    };
    refused_with(
        RawTar::new()
            .file("a", &[0u8; 600])
            .file("b", &[0u8; 600])
            .gz(),
        &limits,
        "untar limit of 1000",
    );
}

#[test]
fn a_decompression_bomb_is_cut_at_the_limit() {
    // 200 MiB of zeros compress to about 200 KiB; the default limit is 100 MiB.
    let mut h = Header::new_gnu();
    h.set_path("bomb").unwrap();
    h.set_size(200 << 20);
    h.set_cksum();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        e.write_all(&zeros).unwrap();
    }
    let gz = e.finish().unwrap();
    assert!(gz.len() < 1 << 20);
    refused(gz, "untar limit");
}

#[test]
fn a_pax_header_of_gigabytes_is_cut_not_held_in_memory() {
    // A PAX record claiming 4 GiB: tar-rs would read it whole into a Vec.
    let mut h = Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..14].copy_from_slice(b"././@PaxHeader");
    h.set_entry_type(EntryType::XHeader);
    h.set_size(4 << 30);
    h.set_cksum();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(h.as_bytes()).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..200 {
        e.write_all(&chunk).unwrap();
    }
    refused(e.finish().unwrap(), "decompresses to more than");
}

#[test]
fn too_many_entries_are_refused() {
    let limits = UntarLimits {
        max_entries: 3,
        ..Default::default()
    };
    let mut t = RawTar::new();
    for i in 0..5 {
        t = t.file(&format!("f{i}"), b"");
    }
    refused_with(t.gz(), &limits, "more than 3 entries");
}

#[test]
fn a_truncated_stream_is_an_error() {
    let gz = RawTar::new().file("a", &[7u8; 100_000]).gz();
    refused(gz[..gz.len() / 2].to_vec(), "");
    // Cut inside the gzip trailer: the tar part is whole, the CRC is not.
    let gz = RawTar::new().file("a", b"abc").gz();
    refused(gz[..gz.len() - 4].to_vec(), "");
}

#[test]
fn a_body_that_is_not_gzip_is_an_error() {
    refused(b"<html>502 Bad Gateway</html>".to_vec(), "not gzip");
    refused(RawTar::new().file("a", b"x").tar(), "not gzip");
}

#[test]
fn a_file_and_a_directory_of_one_name_conflict() {
    refused(
        RawTar::new().file("a", b"x").file("a/b", b"y").gz(),
        "both as a file and as a directory",
    );
}

#[test]
fn cancel_stops_extraction() {
    let sb = Sandbox::new();
    let c = crate::CancelToken::new();
    c.cancel();
    let gz = RawTar::new().file("a", b"x").gz();
    let e = untar_gz(&gz[..], &sb.dest(), "t", &UntarLimits::default(), Some(&c)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn many_files_in_many_directories_land_whole_across_the_writers() {
    let sb = Sandbox::new();
    let mut t = RawTar::new();
    let mut want = Vec::new();
    for i in 0..600 {
        let name = format!("d{}/e{}/f{i}.txt", i % 7, i % 13);
        // Sizes around the chunk size, so some files take several buffers.
        let len = (i * 977) % (3 * super::writer::CHUNK);
        let data: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
        t = t.file(&name, &data);
        want.push((name, data));
    }
    let r = sb.run(&t.gz(), &UntarLimits::default()).unwrap();
    assert_eq!(r.files, 600);
    // d0..d6, and e0..e12 below each (i % 7 and i % 13 meet in every pair over 600 files).
    assert_eq!(r.directories, 7 + 7 * 13);
    for (name, data) in want {
        assert_eq!(
            std::fs::read(sb.dest().join(&name)).unwrap(),
            data,
            "{name}"
        );
    }
}

#[test]
fn a_later_entry_of_one_name_wins_content_and_mode() {
    let sb = Sandbox::new();
    let mut t = RawTar::new().file("f", &[1u8; 100_000]);
    let mut h = RawTar::header(b"f", EntryType::Regular, 2);
    h.set_mode(0o751);
    h.set_cksum();
    t.0.append(&h, &b"ok"[..]).unwrap();
    sb.run(&t.gz(), &UntarLimits::default()).unwrap();
    assert_eq!(std::fs::read(sb.dest().join("f")).unwrap(), b"ok");
    assert_eq!(mode_of(&sb.dest().join("f")), 0o751);
}

#[test]
fn a_directory_entry_sets_its_bits_whether_it_comes_before_or_after_its_files() {
    let sb = Sandbox::new();
    let mut t = RawTar::new();
    for (name, mode) in [("before/", 0o750), ("after/x/", 0o705)] {
        let mut h = RawTar::header(name.as_bytes(), EntryType::Directory, 0);
        h.set_mode(mode);
        h.set_cksum();
        if name == "before/" {
            t.0.append(&h, &b""[..]).unwrap();
            t = t.file("before/f", b"1");
        } else {
            t = t.file("after/x/y/f", b"2");
            t.0.append(&h, &b""[..]).unwrap();
        }
    }
    let r = sb.run(&t.gz(), &UntarLimits::default()).unwrap();
    assert_eq!(r.directories, 4);
    assert_eq!(mode_of(&sb.dest().join("before")), 0o750);
    assert_eq!(mode_of(&sb.dest().join("after/x")), 0o705);
    assert_eq!(std::fs::read(sb.dest().join("after/x/y/f")).unwrap(), b"2");
}

#[test]
fn only_a_fresh_directory_is_extracted_into() {
    let sb = Sandbox::new();
    std::os::unix::fs::symlink("../outside", sb.dest().join("a")).unwrap();
    let err = sb
        .run(
            &RawTar::new().file("a/evil", b"x").gz(),
            &UntarLimits::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
    assert!(err.message.contains("not empty"), "{err}");
    assert_eq!(sb.outside_entries(), vec!["outside".to_string()]);
}

#[test]
fn a_write_that_fails_names_the_file_and_stops_the_extraction() {
    let sb = Sandbox::new();
    // A name component longer than the file system allows (255 bytes): open fails.
    let long = format!("d/{}", "n".repeat(300));
    let mut t = RawTar::new().pax_path(&long).file("short", b"x");
    for i in 0..50 {
        t = t.file(&format!("later/{i}"), b"y");
    }
    let err = sb.run(&t.gz(), &UntarLimits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io, "{err}");
    assert!(err.message.contains(&"n".repeat(300)), "{err}");
}
