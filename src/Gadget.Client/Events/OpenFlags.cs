namespace Gadget;

/// <summary>
/// open(2) flags (x86-64 and arm64 values). O_RDONLY is 0, so it shows only alone; the access
/// mode is also in <see cref="OpenEvent.Access"/>.
/// </summary>
[Flags]
#pragma warning disable CA1008, CA1707, CA1711 // Named as in the kernel, so O_RDONLY is the zero value.
public enum OpenFlags : uint
{
    O_RDONLY = 0,
    O_WRONLY = 1,
    O_RDWR = 2,
    O_CREAT = 0x40,
    O_EXCL = 0x80,
    O_NOCTTY = 0x100,
    O_TRUNC = 0x200,
    O_APPEND = 0x400,
    O_NONBLOCK = 0x800,
    O_DSYNC = 0x1000,
    O_ASYNC = 0x2000,
    O_DIRECT = 0x4000,
    O_LARGEFILE = 0x8000,
    O_DIRECTORY = 0x10000,
    O_NOFOLLOW = 0x20000,
    O_NOATIME = 0x40000,
    O_CLOEXEC = 0x80000,
    O_SYNC = 0x100000,
    O_PATH = 0x200000,
    O_TMPFILE = 0x400000,
}
#pragma warning restore CA1008, CA1707, CA1711
