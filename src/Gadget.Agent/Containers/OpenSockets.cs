using System.Buffers.Text;
using System.Runtime.InteropServices;

namespace Gadget.Agent.Containers;

/// <summary>
/// The sockets among a process's open files: the inodes of the <c>socket:[inode]</c> links in its
/// <c>/proc/&lt;pid&gt;/fd</c>. Read with readdir and readlinkat alone, as ss does: .NET's directory
/// enumeration also stats every symbolic link, twice, to learn whether it points at a directory,
/// which made the owner scan most of a socket snapshot's time.
/// </summary>
internal static unsafe partial class OpenSockets
{
    private const int NameOffset = 19; // struct dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name
    private const int LinkBufferSize = 64;

    /// <summary>Adds the socket inodes linked from <paramref name="fdDirectory"/> to <paramref name="inodes"/>; false when it cannot be read (the process exited).</summary>
    public static bool Read(string fdDirectory, List<ulong> inodes)
    {
        nint directory = opendir(fdDirectory);
        if (directory == 0)
        {
            return false;
        }

        try
        {
            int directoryFd = dirfd(directory);
            byte* target = stackalloc byte[LinkBufferSize];
            for (byte* entry = readdir(directory); entry != null; entry = readdir(directory))
            {
                nint length = readlinkat(directoryFd, entry + NameOffset, target, LinkBufferSize);
                if (length > 0 && ParseSocketInode(new ReadOnlySpan<byte>(target, (int)length)) is ulong inode)
                {
                    inodes.Add(inode);
                }
            }

            return true;
        }
        finally
        {
            _ = closedir(directory);
        }
    }

    /// <summary>The inode of a link target that reads <c>socket:[inode]</c>, or null.</summary>
    internal static ulong? ParseSocketInode(ReadOnlySpan<byte> target)
        => target.StartsWith("socket:["u8) && target[^1] == (byte)']'
            && Utf8Parser.TryParse(target[8..^1], out ulong inode, out int consumed) && consumed == target.Length - 9
            ? inode
            : null;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint opendir(string name);

    [LibraryImport("libc")]
    private static partial byte* readdir(nint directory);

    [LibraryImport("libc")]
    private static partial int dirfd(nint directory);

    [LibraryImport("libc")]
    private static partial int closedir(nint directory);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint readlinkat(int directoryFd, byte* path, byte* buffer, nint size);
}
