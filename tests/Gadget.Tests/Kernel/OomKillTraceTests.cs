using System.Diagnostics;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The oomkill gadget loaded into the real kernel: a Python child in a cgroup v1 memory cgroup of
/// 30 MiB allocates 200 MiB and is killed.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class OomKillTraceTests : IDisposable
{
    private const string MemoryRoot = "/sys/fs/cgroup/memory";
    private const long Limit = 30L << 20;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(20);
    private readonly string _cgroup = Path.Combine(MemoryRoot, $"gadget-oom-{Guid.NewGuid():N}");

    public OomKillTraceTests()
    {
        Directory.CreateDirectory(_cgroup);
        File.WriteAllText(Path.Combine(_cgroup, "memory.limit_in_bytes"), Limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // No swap to escape to: the limit holds for memory and swap together.
        string memsw = Path.Combine(_cgroup, "memory.memsw.limit_in_bytes");
        if (File.Exists(memsw))
        {
            File.WriteAllText(memsw, Limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public void Dispose()
    {
        Eventually.True(() => File.ReadAllText(Path.Combine(_cgroup, "cgroup.procs")).Trim().Length == 0, TimeSpan.FromSeconds(10));
        Directory.Delete(_cgroup);
    }

    [KernelFact]
    public async Task ReportsTheKilledProcessItsMemoryAndTheTrigger()
    {
        using TraceRun run = PythonChild.Start("oomkill", new TraceRequest());
        var reader = new RunReader(run);

        // The shell joins the cgroup, then becomes Python, which fills 200 MiB.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"echo $$ > {_cgroup}/cgroup.procs && exec {PythonChild.Python} -c \"data = b'x' * (200 << 20)\"");
        using Process child = Process.Start(start)!;
        Assert.True(child.WaitForExit(30_000), "The child was not killed in 30 s.");
        Assert.Equal(128 + 9, child.ExitCode); // killed by SIGKILL, as the shell reports it

        List<OomKillEvent> events = await reader.ReadUntilAsync<OomKillEvent>(e => e.Pid == child.Id, EventTimeout);
        OomKillEvent kill = Assert.Single(events, e => e.Pid == child.Id);
        Assert.Equal("python3", kill.Comm);
        Assert.Equal(child.Id, kill.Tid);
        Assert.Equal(Environment.ProcessId, kill.Ppid);
        Assert.Equal(0u, kill.Uid);
        Assert.InRange(kill.AnonRss, 20UL << 20, (ulong)Limit); // most of the limit, never more
        Assert.True(kill.TotalVm >= kill.AnonRss, $"TotalVm {kill.TotalVm} < AnonRss {kill.AnonRss}");
        Assert.True(kill.PageTables > 0);
        Assert.Equal(0, kill.OomScoreAdj);
        // Python's own allocation hit the limit: it is the trigger as well as the victim.
        Assert.Equal((uint)child.Id, kill.TriggerPid);
        Assert.Equal("python3", kill.TriggerComm);
        Assert.Equal(MountNs(Environment.ProcessId), kill.MountNsId);
        Assert.InRange(kill.Timestamp, DateTime.Now.AddMinutes(-1), DateTime.Now);
    }

    private static ulong MountNs(int pid) => ulong.Parse(new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget!.Split('[', ']')[1], System.Globalization.CultureInfo.InvariantCulture);
}
