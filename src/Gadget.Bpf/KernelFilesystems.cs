using System.Runtime.InteropServices;

namespace Gadget.Bpf;

/// <summary>
/// Mounts the pseudo file systems libbpf relies on when the host has not: tracefs (tracepoint ids
/// for attaching) and bpffs (pinning). Minimal hosts and fresh containers often lack them.
/// </summary>
public static partial class KernelFilesystems
{
    public const string TracefsPath = "/sys/kernel/tracing";
    public const string BpffsPath = "/sys/fs/bpf";

    /// <summary>Mounts tracefs and bpffs where missing. Failures are left to surface at attach time.</summary>
    public static void EnsureMounted()
    {
        MountIfMissing(TracefsPath, "tracefs", Path.Combine(TracefsPath, "events"));
        MountIfMissing(BpffsPath, "bpf", probe: null);
    }

    /// <summary>
    /// The root of the cgroup v2 hierarchy, where a cgroup program sees every socket of the host.
    /// Hosts in unified mode mount it at /sys/fs/cgroup, hybrid ones at /sys/fs/cgroup/unified;
    /// where none is mounted, one is mounted under /run/gadget.
    /// </summary>
    public static string Cgroup2Root()
    {
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "36 25 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw": the type follows " - ".
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            string[] fields = line.Split(' ');
            if (separator > 0 && fields.Length > 4 && line[(separator + 3)..].StartsWith("cgroup2 ", StringComparison.Ordinal) && fields[3] == "/")
            {
                return fields[4].Replace("\\040", " ", StringComparison.Ordinal);
            }
        }

        const string fallback = "/run/gadget/cgroup2";
        Directory.CreateDirectory(fallback);
        if (mount("none", fallback, "cgroup2", 0, 0) != 0)
        {
            throw new BpfException(BpfErrorId.AttachFailed,
                $"No cgroup v2 hierarchy is mounted and mounting one at '{fallback}' failed (errno {Marshal.GetLastPInvokeError()}). " +
                "Mount it (mount -t cgroup2 none /sys/fs/cgroup/unified) or run the agent as root.", Marshal.GetLastPInvokeError());
        }

        return fallback;
    }

    private static void MountIfMissing(string target, string type, string? probe)
    {
        bool mounted = probe is not null
            ? Directory.Exists(probe)
            : File.ReadLines("/proc/self/mounts").Any(line => line.Split(' ') is [_, var point, var fs, ..] && point == target && fs == type);
        if (!mounted && Directory.Exists(target))
        {
            _ = mount(type == "bpf" ? "bpf" : "nodev", target, type, 0, 0);
        }
    }

    [LibraryImport(Interop.LibcName, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int mount(string source, string target, string filesystemtype, ulong mountflags, nint data);
}
