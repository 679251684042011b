using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gadget.Agent.Runtime;

/// <summary>
/// The local socket is the agent's only door on a host, so only root may reach it: it lives in a
/// directory that only root can enter, and the socket itself is owner-only from the moment it exists.
/// </summary>
internal static partial class UnixSocketListener
{
    public static bool Prepare(string socketPath, out string? problem)
    {
        problem = null;
        try
        {
            string directory = Path.GetDirectoryName(Path.GetFullPath(socketPath))!;
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            switch (TypeOf(socketPath))
            {
                case FileType.None:
                    return true;
                case FileType.Socket:
                    break;
                case FileType.Directory:
                    problem = $"--socket {socketPath} is a directory; give the path of a socket file to create.";
                    return false;
                default:
                    // Deleting it would let whoever can run the agent destroy any file on the host.
                    problem = $"--socket {socketPath} exists and is not a socket; the agent removes only a socket that an agent left behind. Give another path, or remove the file yourself.";
                    return false;
            }
        }
        catch (IOException exception)
        {
            problem = $"Cannot prepare the socket {socketPath}: {Describe(exception)}";
            return false;
        }
        catch (UnauthorizedAccessException exception)
        {
            problem = $"Cannot prepare the socket {socketPath}: {exception.Message}";
            return false;
        }

        // A socket file is left behind by an agent that crashed; a live one still accepts.
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            problem = $"Another agent is already serving on {socketPath}.";
            return false;
        }
        catch (SocketException)
        {
            File.Delete(socketPath);
            return true;
        }
    }

    /// <summary>
    /// Files this process creates from now on are owner-only (umask 077), so the socket that Kestrel
    /// binds is never reachable by others, not even between its bind and <see cref="RestrictToOwner"/>.
    /// </summary>
    public static void CreateOwnerOnly() => _ = umask(0b000_111_111);

    public static void RestrictToOwner(string socketPath)
        => File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);

    /// <summary>
    /// Why binding <paramref name="socketPath"/> failed. .NET reports some errno values of bind, such
    /// as ENOSPC, only as "Unknown socket error"; creating a file beside the socket names the cause.
    /// </summary>
    public static string DescribeBindFailure(string socketPath, Exception exception)
    {
        string probe = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(socketPath))!, $".gadget-agent-{Environment.ProcessId}.probe");
        try
        {
            File.Create(probe).Dispose();
            File.Delete(probe);
        }
        catch (IOException probeFailure)
        {
            return Describe(probeFailure);
        }
        catch (UnauthorizedAccessException probeFailure)
        {
            return probeFailure.Message;
        }

        return Describe(exception);
    }

    /// <summary>An I/O failure's message, with the errno's name where it is one a person can act on.</summary>
    public static string Describe(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            int errno = current switch
            {
                SocketException socket => socket.NativeErrorCode,
                IOException io => io.HResult,
                _ => 0,
            };
            if (errno == ENOSPC || current.Message.Contains("No space left on device", StringComparison.Ordinal))
            {
                return $"no space left on its file system (ENOSPC): {current.Message}. Free space or inodes there, or give --socket another directory.";
            }
        }

        return exception.Message;
    }

    private const int ENOSPC = 28;

    private enum FileType
    {
        None,
        Socket,
        Directory,
        Other,
    }

    /// <summary>What is at the path itself (a symbolic link is not followed, and counts as Other).</summary>
    private static unsafe FileType TypeOf(string path)
    {
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
        const uint StatxType = 1;
        const int ModeOffset = 28; // struct statx: stx_mask, stx_blksize, stx_attributes, stx_nlink, stx_uid, stx_gid, stx_mode
        byte* buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == ENOENT ? FileType.None : throw new IOException($"{Marshal.GetPInvokeErrorMessage(errno)} ({path})", errno);
        }

        return (*(ushort*)(buffer + ModeOffset) & 0xF000) switch
        {
            0xC000 => FileType.Socket,
            0x4000 => FileType.Directory,
            _ => FileType.Other,
        };
    }

    private const int ENOENT = 2;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc")]
    private static partial uint umask(uint mask);
}
