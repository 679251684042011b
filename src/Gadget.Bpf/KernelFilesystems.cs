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

    [LibraryImport(Interop.LibcName, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string filesystemtype, ulong mountflags, nint data);
}
