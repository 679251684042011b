using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The mount gadget loaded into the real kernel, watching a Python child mount a tmpfs in a private mount namespace.</summary>
[Collection(KernelTests.Name)]
public sealed class MountTraceTests : IDisposable
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);
    private readonly string _directory = Directory.CreateTempSubdirectory("gadget-mount-").FullName;

    /// <summary>mount(2) a read-only tmpfs, umount2(2) it with MNT_DETACH, then mount on a directory that does not exist.</summary>
    private const string Script = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        target = sys.argv[1].encode()
        MS_RDONLY, MS_NOSUID, MNT_DETACH = 1, 2, 2
        if libc.mount(b'gadget-test', target, b'tmpfs', MS_RDONLY | MS_NOSUID, b'size=1m,mode=700') != 0:
            raise OSError(ctypes.get_errno(), 'mount')
        if libc.umount2(target, MNT_DETACH) != 0:
            raise OSError(ctypes.get_errno(), 'umount2')
        print('missing', libc.mount(b'gadget-test', target + b'/missing', b'tmpfs', 0, None), ctypes.get_errno(), flush=True)
        """;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [KernelFact]
    public async Task ReportsAMountItsUmountAndAFailedMount()
    {
        using TraceRun run = PythonChild.Start("mount", new TraceRequest());
        var reader = new RunReader(run);
        (int pid, string[] output) = PythonChild.Run(Script, ["-m", "--propagation", "private"], _directory);
        List<MountEvent> events = [.. (await reader.ReadUntilAsync<MountEvent>(e => e.Pid == pid && e.Error != Errno.None, EventTimeout)).Where(e => e.Pid == pid)];
        Assert.Equal("missing -1 2", output[0]);

        // unshare --propagation private makes its own mount call first, as the same process.
        List<MountEvent> mine = [.. events.Where(e => e.Source == "gadget-test" || e.Call == MountCall.Umount)];
        Assert.Equal(3, mine.Count);
        MountEvent mount = mine[0];
        Assert.Equal(MountCall.Mount, mount.Call);
        Assert.Equal(_directory, mount.Target);
        Assert.Equal("tmpfs", mount.FsType);
        Assert.Equal("size=1m,mode=700", mount.Options);
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoSuid, mount.Flags);
        Assert.Equal(UmountFlags.None, mount.UmountFlags);
        Assert.Equal(Errno.None, mount.Error);
        Assert.Equal("python3", mount.Comm);

        MountEvent umount = mine[1];
        Assert.Equal(MountCall.Umount, umount.Call);
        Assert.Equal(_directory, umount.Target);
        Assert.Equal(UmountFlags.Detach, umount.UmountFlags);
        Assert.Equal(string.Empty, umount.Source);
        Assert.Equal(Errno.None, umount.Error);

        MountEvent missing = mine[2];
        Assert.Equal(_directory + "/missing", missing.Target);
        Assert.Equal(Errno.ENOENT, missing.Error);
        Assert.Equal(string.Empty, missing.Options);

        // The mounts happened in the child's own mount namespace, not this process's.
        Assert.NotEqual(MountNs("self"), mount.MountNsId);
        Assert.False(File.ReadAllText("/proc/self/mountinfo").Contains(_directory, StringComparison.Ordinal));
    }

    [KernelFact]
    public async Task TheFailedFilterRunsInTheKernel()
    {
        using TraceRun run = PythonChild.Start("mount", new TraceRequest { Parameters = { ["failed"] = "true" } });
        var reader = new RunReader(run);
        (int pid, _) = PythonChild.Run(Script, ["-m", "--propagation", "private"], _directory);
        List<MountEvent> all = await reader.ReadUntilAsync<MountEvent>(e => e.Pid == pid, EventTimeout);

        MountEvent missing = Assert.Single(all, e => e.Pid == pid);
        Assert.Equal(Errno.ENOENT, missing.Error);
        Assert.All(all, e => Assert.NotEqual(Errno.None, e.Error));
    }

    private static ulong MountNs(string pid) => ulong.Parse(new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget!.Split('[', ']')[1], System.Globalization.CultureInfo.InvariantCulture);
}
