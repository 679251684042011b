using System.Runtime.InteropServices;

namespace Gadget.Agent.Containers;

/// <summary>Reads a process's namespaces and cgroup from /proc.</summary>
internal static partial class ProcessNamespaces
{
    /// <summary>The inode of /proc/PID/ns/KIND ("mnt", "net"), 0 when the process is gone.</summary>
    public static ulong Inode(int pid, string kind, string procRoot = "/proc")
    {
        // The link reads "mnt:[4026531832]". FileInfo.LinkTarget does not read these special links.
        string? target = ReadLink($"{procRoot}/{pid}/ns/{kind}");
        if (target is null)
        {
            return 0;
        }

        {
            int open = target.IndexOf('[', StringComparison.Ordinal);
            int close = target.IndexOf(']', StringComparison.Ordinal);
            return open > 0 && close > open && ulong.TryParse(target.AsSpan(open + 1, close - open - 1), out ulong inode) ? inode : 0;
        }
    }

    /// <summary>Where a symbolic link points (also /proc's special links), or null.</summary>
    internal static unsafe string? ReadLink(string path)
    {
        byte* buffer = stackalloc byte[256];
        nint length = readlink(path, buffer, 256);
        return length <= 0 ? null : Marshal.PtrToStringUTF8((nint)buffer, (int)length);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial nint readlink(string path, byte* buffer, nint size);

    /// <summary>The unified (cgroup v2) path of a process, or the first hierarchy's on a v1-only host.</summary>
    public static string CgroupPath(int pid, string procRoot = "/proc")
    {
        try
        {
            string? first = null;
            foreach (string line in File.ReadLines($"{procRoot}/{pid}/cgroup"))
            {
                // "0::/path" is the unified hierarchy; "N:controllers:/path" a v1 one.
                string[] parts = line.Split(':', 3);
                if (parts.Length != 3)
                {
                    continue;
                }

                if (parts[0] == "0")
                {
                    return parts[2];
                }

                first ??= parts[2];
            }

            return first ?? string.Empty;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    /// <summary>
    /// The host's own mount namespace (init's): events from it are "on the host". Where init's
    /// namespaces cannot be read (init in an ancestor user namespace, or no CAP_SYS_PTRACE), the
    /// agent's own is the host's: it then runs on the host, not in a pod, which has hostPID and
    /// CAP_SYS_PTRACE.
    /// </summary>
    public static ulong HostMountNs { get; } = Inode(1, "mnt") is > 0 and var init ? init : Inode(Environment.ProcessId, "mnt");
}
