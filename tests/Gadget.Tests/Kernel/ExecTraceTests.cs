using System.Diagnostics;
using Gadget.Agent.Containers;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Runtime;
using Gadget.Agent.Decoding;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The exec gadget loaded into the real kernel, watching real processes started here.</summary>
[Collection(KernelTests.Name)]
public sealed class ExecTraceTests
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(5);

    [KernelFact]
    public async Task ReportsASuccessfulExecWithItsProcess()
    {
        using TraceRun run = Start(new TraceRequest { Gadget = "exec" });
        string marker = HostProcess.NewMarker();
        DateTime before = DateTime.Now;

        int pid = HostProcess.Run("/bin/true", marker);
        List<ExecEvent> events = await ReadAllAsync(run, e => HasArg(e, marker));

        ExecEvent exec = Assert.Single(events, e => HasArg(e, marker));
        Assert.Equal(pid, exec.Pid);
        Assert.Equal(pid, exec.Tid);
        Assert.Equal(Environment.ProcessId, exec.Ppid);
        Assert.Equal(0u, exec.Uid);
        Assert.Equal(0u, exec.Gid);
        Assert.Equal("true", exec.Comm);
        Assert.Equal("/bin/true", exec.ExePath);
        Assert.Equal(["/bin/true", marker], exec.Args);
        Assert.Equal(Errno.None, exec.Error);
        Assert.False(exec.ArgsTruncated);
        Assert.Equal(SelfNamespace("mnt"), exec.MountNsId);
        Assert.Equal(SelfNamespace("net"), exec.NetNsId);
        Assert.Equal(DateTimeKind.Local, exec.Timestamp.Kind);
        Assert.InRange(exec.Timestamp, before.AddMilliseconds(-50), DateTime.Now);
    }

    [KernelFact]
    public async Task ReportsAFailedExecOnlyWhenAsked()
    {
        string missing = $"/nonexistent-{Guid.NewGuid():N}";

        using (TraceRun run = Start(new TraceRequest { Gadget = "exec", Parameters = { [ExecGadget.IncludeFailedParameter] = "true" } }))
        {
            HostProcess.Run("/bin/sh", "-c", missing);
            List<ExecEvent> events = await ReadAllAsync(run, e => e.ExePath == missing);

            ExecEvent failed = Assert.Single(events, e => e.ExePath == missing);
            Assert.Equal(Errno.ENOENT, failed.Error);
            Assert.Equal([missing], failed.Args);
            Assert.Equal("sh", failed.Comm);
        }

        using (TraceRun run = Start(new TraceRequest { Gadget = "exec" }))
        {
            // Without the parameter the failure is not reported; the exec after it proves the ring was read past it.
            HostProcess.Run("/bin/sh", "-c", missing);
            string marker = HostProcess.NewMarker();
            HostProcess.Run("/bin/true", marker);
            List<ExecEvent> events = await ReadAllAsync(run, e => HasArg(e, marker));

            Assert.Contains(events, e => HasArg(e, marker));
            Assert.DoesNotContain(events, e => e.ExePath == missing);
        }
    }

    [KernelFact]
    public async Task CommFilterRunsInTheKernel()
    {
        using TraceRun run = Start(new TraceRequest { Gadget = "exec", Filter = new ProcessFilter { Comm = "true" } });
        string marker = HostProcess.NewMarker();

        using Process echo = HostProcess.Start("/bin/echo", marker);
        using Process truth = HostProcess.Start("/bin/true", marker);
        HostProcess.WaitForExit(echo);
        HostProcess.WaitForExit(truth);
        Assert.Equal(marker, echo.StandardOutput.ReadToEnd().Trim()); // the echo did run
        List<ExecEvent> events = await ReadAllAsync(run, e => HasArg(e, marker));

        ExecEvent exec = Assert.Single(events, e => HasArg(e, marker));
        Assert.Equal(truth.Id, exec.Pid);
        Assert.All(events, e => Assert.Equal("true", e.Comm));
        // The agent read only what the kernel let through: nothing was dropped after the ring.
        TraceCounters counters = run.Counters((ulong)events.Count);
        Assert.Equal((ulong)events.Count, counters.Seen);
        Assert.Equal(0ul, counters.FilteredAgent);
        Assert.Equal(0ul, counters.LostKernel + counters.LostAgent + counters.Malformed);
    }

    [KernelFact]
    public async Task PidFilterRunsInTheKernel()
    {
        string marker = HostProcess.NewMarker();
        // The shell waits for a line, then runs a child (another pid) and replaces itself (same pid).
        using Process shell = HostProcess.Start("/bin/sh", "-c", $"read line; /bin/echo {marker}; exec /bin/true {marker}");
        using TraceRun run = Start(new TraceRequest { Gadget = "exec", Filter = new ProcessFilter { Pid = (uint)shell.Id } });

        shell.StandardInput.WriteLine("go");
        shell.StandardInput.Close();
        HostProcess.WaitForExit(shell);
        List<ExecEvent> events = await ReadAllAsync(run, e => HasArg(e, marker) && e.Comm == "true");

        ExecEvent exec = Assert.Single(events);
        Assert.Equal(shell.Id, exec.Pid);
        Assert.Equal(["/bin/true", marker], exec.Args);
        Assert.Equal(1ul, run.Counters(delivered: 1).Seen);
    }

    [KernelFact]
    public async Task ALoneExecIsHandedOverAtOnceAndAStreamOfThemInFewBatches()
    {
        // A program name of its own, so nothing else on the host passes the kernel's comm filter,
        // and a partial-batch interval long enough to tell the two hand-overs apart.
        string comm = "gt-" + Guid.NewGuid().ToString("N")[..8];
        string program = Path.Combine(Path.GetTempPath(), comm);
        File.CreateSymbolicLink(program, "/bin/true");
        try
        {
            var settings = new TraceSettings { PartialBatchInterval = TimeSpan.FromSeconds(3) };
            using TraceRun run = TraceRun.Start(TestGadgets.Get("exec"), new TraceRequest { Gadget = "exec", Filter = new ProcessFilter { Comm = comm } }, settings, new ContainerCollection());
            var reader = new RunReader(run);

            // The first exec of a quiet trace leaves with the drain that found it.
            HostProcess.Run(program, "lone");
            ExecEvent[] lone = await NextBatchAsync(run, reader, TimeSpan.FromSeconds(2));
            Assert.Equal(["lone"], lone.Select(e => e.Args[1]));

            // The next ones, made within the interval of that hand-over, wait for it and travel together.
            for (int i = 0; i < 5; i++)
            {
                HostProcess.Run(program, $"stream-{i}");
                await Task.Delay(100);
            }

            ExecEvent[] stream = await NextBatchAsync(run, reader, TimeSpan.FromSeconds(6));
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"stream-{i}"), stream.Select(e => e.Args[1]));
        }
        finally
        {
            File.Delete(program);
        }
    }

    [KernelFact]
    public void DisposingTheRunUnloadsItsPrograms()
    {
        int ours;
        using (TraceRun run = Start(new TraceRequest { Gadget = "exec" }))
        {
            HashSet<int> loaded = LoadedPrograms.Named("gadget_exec");
            loaded.IntersectWith(LoadedPrograms.HeldByThisProcess());
            ours = Assert.Single(loaded);
        }

        // The kernel frees a program once its last reference goes; allow it a moment.
        Assert.True(
            Eventually.True(() => !LoadedPrograms.Named("gadget_exec").Contains(ours), EventTimeout),
            $"Program {ours} (gadget_exec) is still loaded after the run was disposed.");
        Assert.Empty(LoadedPrograms.HeldByThisProcess());
    }

    private static TraceRun Start(TraceRequest request) => TraceRun.Start(TestGadgets.Get("exec"), request, new TraceSettings(), new ContainerCollection());

    /// <summary>
    /// Reads until an event matches <paramref name="awaited"/> (at most <see cref="EventTimeout"/>),
    /// then stops the run and takes everything it had read: the complete record of what it saw.
    /// </summary>
    private static async Task<List<ExecEvent>> ReadAllAsync(TraceRun run, Func<ExecEvent, bool> awaited)
    {
        var reader = new RunReader(run);
        var events = new List<ExecEvent>();
        using (var timeout = new CancellationTokenSource(EventTimeout))
        {
            try
            {
                while (!events.Any(awaited) && await run.Batches.WaitToReadAsync(timeout.Token))
                {
                    events.AddRange(reader.Take().Cast<ExecEvent>());
                }
            }
            catch (OperationCanceledException)
            {
                // Timed out: the assertions say what is missing.
            }
        }

        run.StopReading();
        events.AddRange(reader.Take().Cast<ExecEvent>());
        return events;
    }

    private static async Task<ExecEvent[]> NextBatchAsync(TraceRun run, RunReader reader, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await run.Batches.WaitToReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No batch was handed over within {timeout.TotalSeconds} s.");
        }

        Assert.True(run.Batches.TryRead(out RowBatch? batch));
        run.MarkDequeued(batch);
        return [.. reader.Read(batch).Cast<ExecEvent>()];
    }

    private static bool HasArg(ExecEvent e, string marker) => e.Args.Contains(marker);

    private static ulong SelfNamespace(string kind)
    {
        // The link reads "mnt:[4026531841]".
        string link = new FileInfo($"/proc/self/ns/{kind}").LinkTarget!;
        return ulong.Parse(link[(link.IndexOf('[', StringComparison.Ordinal) + 1)..^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
