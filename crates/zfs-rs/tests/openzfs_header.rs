//! The ZFS ioctl numbers against OpenZFS's own `sys/fs/zfs.h` (installed with the OpenZFS
//! development headers, which `cargo xtask ci` sets up): the Linux values by compiling the
//! header with the host's C compiler, the FreeBSD start of the enum by its `__FreeBSD__` branch.

use zfs::codec::{
    ZFS_IOC_FIRST_FREEBSD, ZFS_IOC_FIRST_LINUX, ZFS_IOC_JAIL, ZFS_IOC_PLATFORM_OFFSET,
    ZFS_IOC_UNJAIL,
};

const HEADER: &str = "/usr/include/libzfs/sys/fs/zfs.h";

#[test]
fn ioctl_numbers_match_openzfs_header() {
    let Ok(text) = std::fs::read_to_string(HEADER) else {
        println!("SKIP: no OpenZFS headers at {HEADER}");
        return;
    };
    // FreeBSD's branch of the enum starts at 0.
    let compact: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        compact.contains(&format!(
            "#ifdef __FreeBSD__ ZFS_IOC_FIRST = {ZFS_IOC_FIRST_FREEBSD}, #else ZFS_IOC_FIRST = ('Z' << 8),"
        )),
        "the __FreeBSD__ branch of ZFS_IOC_FIRST changed in {HEADER}"
    );
    let dir = std::env::temp_dir().join(format!("zfs-ioc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("ioc.c");
    std::fs::write(
        &src,
        "#include <sys/fs/zfs.h>\n#include <stdio.h>\nint main(void) { printf(\"%d %d %d %d\\n\", (int)ZFS_IOC_FIRST, (int)ZFS_IOC_PLATFORM, (int)ZFS_IOC_JAIL, (int)ZFS_IOC_UNJAIL); return 0; }\n",
    )
    .unwrap();
    let exe = dir.join("ioc");
    let st = std::process::Command::new("cc")
        .args(["-I/usr/include/libspl", "-I/usr/include/libzfs", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "compiling against {HEADER}");
    let out = std::process::Command::new(&exe).output().unwrap();
    let v: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(v[0], ZFS_IOC_FIRST_LINUX, "ZFS_IOC_FIRST on Linux");
    assert_eq!(v[1] - v[0], ZFS_IOC_PLATFORM_OFFSET);
    // The same offsets from FreeBSD's start of the enum.
    assert_eq!(v[2] - v[0] + ZFS_IOC_FIRST_FREEBSD, ZFS_IOC_JAIL);
    assert_eq!(v[3] - v[0] + ZFS_IOC_FIRST_FREEBSD, ZFS_IOC_UNJAIL);
}
