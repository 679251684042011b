using System.Diagnostics;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The process snapshot run in the real kernel, compared with /proc for a python3 with three threads this test starts.</summary>
[Collection(KernelTests.Name)]
public sealed class ProcessSnapshotTests
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task ListsEveryProcessOnceAsProcSeesIt()
    {
        using Process python = StartThreeThreads();
        try
        {
            HashSet<int> before = ProcPids();
            List<ProcessEntry> entries = await SnapshotAsync(new TraceRequest { Gadget = "process" });
            HashSet<int> after = ProcPids();

            Assert.Equal(entries.Count, entries.Select(e => e.Pid).Distinct().Count());
            Assert.All(entries, e => Assert.Equal(e.Pid, e.Tid));

            // Every process /proc listed before and after the snapshot existed all along: the snapshot
            // has it. Pid 1 is left out: where the init of a sandbox shows in /proc without being a
            // task of this pid namespace, the kernel's task iterator (bpftool iter alike) skips it.
            HashSet<int> listed = [.. entries.Select(e => e.Pid)];
            int[] missing = [.. before.Intersect(after).Except(listed).Where(pid => pid != 1)];
            Assert.Empty(missing);

            ProcessEntry entry = Assert.Single(entries, e => e.Pid == python.Id);
            Assert.Equal("python3", entry.Comm);
            Assert.Equal(Environment.ProcessId, entry.Ppid);
            Assert.Equal(3u, entry.Threads);
            Assert.Equal(ProcStatus(python.Id, "Uid:"), entry.Uid);
            Assert.Equal(ProcStatus(python.Id, "Gid:"), entry.Gid);
            Assert.Equal(NamespaceInode(python.Id, "mnt"), entry.MountNsId);
            Assert.Equal(NamespaceInode(python.Id, "net"), entry.NetNsId);
            Assert.InRange(entry.Timestamp, DateTime.UtcNow.AddSeconds(-30), DateTime.UtcNow.AddSeconds(1));
            Assert.InRange(entry.StartTime, DateTime.UtcNow.AddMinutes(-2), entry.Timestamp);

            ProcessEntry self = Assert.Single(entries, e => e.Pid == Environment.ProcessId);
            Assert.Equal(File.ReadAllText("/proc/self/comm").TrimEnd('\n'), self.Comm);
        }
        finally
        {
            python.Kill();
            python.WaitForExit();
        }
    }

    [KernelFact]
    public async Task ThreadsGivesOneRowPerThreadAndPidFiltersInTheKernel()
    {
        using Process python = StartThreeThreads();
        try
        {
            var request = new TraceRequest { Gadget = "process", Filter = new ProcessFilter { Pid = (uint)python.Id }, Parameters = { ["threads"] = "true" } };
            List<ProcessEntry> entries = await SnapshotAsync(request);

            Assert.All(entries, e => Assert.Equal(python.Id, e.Pid));
            int[] tids = [.. Directory.GetDirectories($"/proc/{python.Id}/task").Select(d => int.Parse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture)).Order()];
            Assert.Equal(3, tids.Length);
            Assert.Equal(tids, entries.Select(e => e.Tid).Order().ToArray());
            Assert.All(entries, e => Assert.Equal(3u, e.Threads));
            Assert.All(entries, e => Assert.Equal(Environment.ProcessId, e.Ppid));
            Assert.Contains(entries, e => e.Tid == python.Id && e.Comm == "python3");
        }
        finally
        {
            python.Kill();
            python.WaitForExit();
        }
    }

    [KernelFact]
    public async Task SeveralPidsFilterInTheKernel()
    {
        using Process python = StartThreeThreads();
        try
        {
            var request = new TraceRequest { Gadget = "process", Filter = new ProcessFilter { Pids = { (uint)python.Id, (uint)Environment.ProcessId } } };
            List<ProcessEntry> entries = await SnapshotAsync(request);
            Assert.Equal([Environment.ProcessId, python.Id], entries.Select(e => e.Pid).Order().ToArray());
        }
        finally
        {
            python.Kill();
            python.WaitForExit();
        }
    }

    [KernelFact]
    public async Task AKeptObjectServesTheNextSnapshotWithOnlyItsOwnPids()
    {
        using Process first = StartThreeThreads();
        using Process second = StartThreeThreads();
        using var pool = new SnapshotObjectPool();
        try
        {
            var byFirst = new TraceRequest { Gadget = "process", Filter = new ProcessFilter { Pids = { (uint)first.Id, (uint)Environment.ProcessId } } };
            List<ProcessEntry> entries = await SnapshotAsync(byFirst, pool);
            Assert.Equal(new[] { Environment.ProcessId, first.Id }.Order().ToArray(), entries.Select(e => e.Pid).Order().ToArray());
            Assert.Equal(1, pool.IdleCount);

            // Configured alike (a pid set), so the kept object runs again: the first pid set must be gone from it.
            var bySecond = new TraceRequest { Gadget = "process", Filter = new ProcessFilter { Pids = { (uint)second.Id, (uint)Environment.ProcessId } } };
            entries = await SnapshotAsync(bySecond, pool);
            Assert.Equal(1, pool.Reuses);
            Assert.Equal(new[] { Environment.ProcessId, second.Id }.Order().ToArray(), entries.Select(e => e.Pid).Order().ToArray());

            // Another configuration loads an object of its own, kept beside the first.
            entries = await SnapshotAsync(new TraceRequest { Gadget = "process" }, pool);
            Assert.Equal(1, pool.Reuses);
            Assert.Equal(2, pool.IdleCount);
            Assert.Contains(entries, e => e.Pid == first.Id);
            Assert.Contains(entries, e => e.Pid == second.Id);
        }
        finally
        {
            first.Kill();
            second.Kill();
        }
    }

    [KernelFact]
    public async Task CommAndUidFilterInTheKernel()
    {
        using Process python = StartThreeThreads();
        try
        {
            List<ProcessEntry> byComm = await SnapshotAsync(new TraceRequest { Gadget = "process", Filter = new ProcessFilter { Comm = "python3" } });
            Assert.Contains(byComm, e => e.Pid == python.Id);
            Assert.All(byComm, e => Assert.Equal("python3", e.Comm));

            List<ProcessEntry> byUid = await SnapshotAsync(new TraceRequest { Gadget = "process", Filter = new ProcessFilter { Uid = 65534 } });
            Assert.DoesNotContain(byUid, e => e.Pid == python.Id);
            Assert.All(byUid, e => Assert.Equal(65534u, e.Uid));
        }
        finally
        {
            python.Kill();
            python.WaitForExit();
        }
    }

    private static async Task<List<ProcessEntry>> SnapshotAsync(TraceRequest request, SnapshotObjectPool? pool = null)
    {
        using TraceRun run = TraceRun.Start(TestGadgets.Get("process"), request, new TraceSettings(), new ContainerCollection(), pool);
        var reader = new RunReader(run);
        List<ProcessEntry> entries = await reader.ReadUntilAsync<ProcessEntry>(_ => false, ReadTimeout);
        Assert.True(run.Batches.Completion.IsCompleted, "The snapshot did not end by itself.");
        return entries;
    }

    /// <summary>A python3 whose main thread and two more sleep; it says "ready" once all three run.</summary>
    internal static Process StartThreeThreads()
    {
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import threading, time\nfor _ in range(2): threading.Thread(target=time.sleep, args=(120,), daemon=True).start()\nprint('ready', flush=True)\ntime.sleep(120)");
        Process process = Process.Start(info)!;
        Assert.Equal("ready", process.StandardOutput.ReadLine());
        return process;
    }

    private static HashSet<int> ProcPids() =>
        [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)).Select(n => int.Parse(n!, System.Globalization.CultureInfo.InvariantCulture))];

    private static uint ProcStatus(int pid, string key) =>
        uint.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Split('\t', StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture);

    private static ulong NamespaceInode(int pid, string kind)
    {
        string link = File.ResolveLinkTarget($"/proc/{pid}/ns/{kind}", returnFinalTarget: false)!.ToString(); // mnt:[4026531841]
        return ulong.Parse(link[(link.IndexOf('[', StringComparison.Ordinal) + 1)..^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
