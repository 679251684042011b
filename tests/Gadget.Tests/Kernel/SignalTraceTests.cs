using System.Diagnostics;
using System.Runtime.InteropServices;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The signal gadget loaded into the real kernel, watching signals this process sends to its children.</summary>
[Collection(KernelTests.Name)]
public sealed partial class SignalTraceTests
{
    private const int SIGUSR1 = 10;
    private const int SIGUSR2 = 12;
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(5);

    [KernelFact]
    public async Task ReportsASignalWithItsSenderTargetAndResult()
    {
        using Process child = Sleeper();
        using TraceRun run = Start(new TraceRequest { Gadget = "signal" });
        var reader = new RunReader(run);

        (int tid, string comm) = SendSignal(child.Id, SIGUSR1);
        List<SignalEvent> events = await reader.ReadUntilAsync<SignalEvent>(e => e.TargetPid == (uint)child.Id, EventTimeout);
        Assert.True(child.WaitForExit(5000));

        SignalEvent signal = Assert.Single(events, e => e.TargetPid == (uint)child.Id && e.Signal == Signal.SIGUSR1);
        Assert.Equal(Environment.ProcessId, signal.Pid);
        Assert.Equal(tid, signal.Tid);
        Assert.Equal(comm, signal.Comm);
        Assert.Equal("sleep", signal.TargetComm);
        Assert.Equal(SignalResult.Delivered, signal.Result);
        Assert.Equal(0, signal.Code); // SI_USER: sent by kill()
        Assert.True(signal.Group); // kill() signals the whole thread group
        Assert.InRange(signal.Timestamp, DateTime.Now.AddSeconds(-10), DateTime.Now);
    }

    [KernelFact]
    public async Task ReportsASignalTheTargetIgnores()
    {
        // The shell ignores SIGUSR2 and so does the sleep it then becomes.
        using Process child = Start("/bin/sh", "-c", "trap '' USR2; exec sleep 30");
        Assert.True(Eventually.True(() => File.ReadAllText($"/proc/{child.Id}/comm").TrimEnd('\n') == "sleep", EventTimeout), "The shell did not become sleep.");
        using TraceRun run = Start(new TraceRequest { Gadget = "signal" });
        var reader = new RunReader(run);

        try
        {
            SendSignal(child.Id, SIGUSR2);
            List<SignalEvent> events = await reader.ReadUntilAsync<SignalEvent>(e => e.TargetPid == (uint)child.Id, EventTimeout);

            SignalEvent ignored = Assert.Single(events, e => e.TargetPid == (uint)child.Id);
            Assert.Equal(Signal.SIGUSR2, ignored.Signal);
            Assert.Equal(SignalResult.Ignored, ignored.Result);
            Assert.False(child.HasExited);
        }
        finally
        {
            child.Kill();
            child.WaitForExit(5000);
        }
    }

    [KernelFact]
    public async Task TheSignalFilterRunsInTheKernel()
    {
        using Process first = Sleeper();
        using Process second = Sleeper();
        using TraceRun run = Start(new TraceRequest { Gadget = "signal", Parameters = { ["signal"] = SIGUSR1.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
        var reader = new RunReader(run);

        SendSignal(first.Id, SIGUSR2);
        SendSignal(second.Id, SIGUSR1);
        List<SignalEvent> events = await reader.ReadUntilAsync<SignalEvent>(e => e.TargetPid == (uint)second.Id, EventTimeout);
        Assert.True(first.WaitForExit(5000));
        Assert.True(second.WaitForExit(5000));

        Assert.Single(events, e => e.TargetPid == (uint)second.Id);
        Assert.All(events, e => Assert.Equal(Signal.SIGUSR1, e.Signal));
        Assert.DoesNotContain(events, e => e.TargetPid == (uint)first.Id);
        // The agent saw only what the kernel let through.
        TraceCounters counters = run.Counters((ulong)events.Count);
        Assert.Equal((ulong)events.Count, counters.Seen);
        Assert.Equal(0ul, counters.FilteredAgent + counters.Malformed + counters.LostKernel + counters.LostAgent);
    }

    private static TraceRun Start(TraceRequest request) => TraceRun.Start(TestGadgets.Get("signal"), request, new TraceSettings(), new ContainerCollection());

    private static Process Sleeper() => Start("/bin/sleep", "30");

    private static Process Start(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
    }

    /// <summary>kill(2) from this thread; returns the thread's id and its process's name (the sender's Comm), read now: the thread may be gone when the event is read.</summary>
    private static (int Tid, string Comm) SendSignal(int pid, int signal)
    {
        int tid = gettid();
        string comm = File.ReadAllText("/proc/self/comm").TrimEnd('\n');
        Assert.NotEqual(comm, File.ReadAllText("/proc/thread-self/comm").TrimEnd('\n')); // a test thread, named otherwise
        Assert.Equal(0, kill(pid, signal));
        return (tid, comm);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc")]
    private static partial int gettid();
}
