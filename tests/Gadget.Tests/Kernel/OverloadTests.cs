using System.Globalization;
using System.Runtime.InteropServices;
using Gadget.Tracing;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// A producer far faster than any consumer (the flood gadget, driven by this process's own
/// getppid calls while nothing reads the trace): every record it generated is either delivered or
/// counted as lost, the loss is reported while the trace runs, and the agent's memory stays bounded.
/// </summary>
[Collection(KernelTests.Name)]
public sealed partial class OverloadTests
{
    /// <summary>Records per getppid call: about 24 MiB, more than the agent's 8 MiB ring holds at once, so the kernel loses some too.</summary>
    private const int RecordsPerCall = 65536;

    private const int Calls = 24;

    private static readonly TimeSpan PauseBetweenCalls = TimeSpan.FromMilliseconds(100);

    /// <summary>The agent's queue holds 64 k events whatever the load; well below this, with the runtime around it.</summary>
    private const long AgentMemoryBound = 200L << 20;

    private static readonly TimeSpan TraceDuration = TimeSpan.FromSeconds(8);

    [KernelFact]
    public async Task EveryGeneratedEventIsDeliveredOrCountedAsLost()
    {
        using AgentProcess agent = await AgentProcess.StartAsync();
        var options = new TraceOptions { Gadget = "flood", Pids = [Environment.ProcessId], Duration = TraceDuration };
        options.Parameters["records-per-call"] = RecordsPerCall.ToString(CultureInfo.InvariantCulture);
        using var timeout = new CancellationTokenSource(TraceDuration + TimeSpan.FromSeconds(30));
        using var session = TraceSession.Start(agent.Connection, options, "test-node", timeout.Token);
        await session.Attached.WaitAsync(timeout.Token);

        // The producer runs to its end while nobody reads the trace: nothing it does waits for a reader.
        // The pause between calls lets the agent's ring reader move what the ring holds into the
        // agent's queue, so that queue fills up and overflows too, however busy the machine is.
        for (int i = 0; i < Calls; i++)
        {
            _ = getppid();
            Thread.Sleep(PauseBetweenCalls);
        }

        const ulong generated = (ulong)Calls * RecordsPerCall;

        var sequences = new HashSet<ulong>();
        ulong received = 0;
        bool lossReportedWhileRunning = false;
        TraceStatistics? final = null;
        while (session.TryTake(out object? item, TimeSpan.FromSeconds(1), timeout.Token) || !session.IsCompleted)
        {
            switch (item)
            {
                case ExecEvent flood:
                    received++;
                    Assert.Equal("flood", flood.ExePath);
                    Assert.True(sequences.Add(ulong.Parse(flood.Args[1], CultureInfo.InvariantCulture)), $"Sequence {flood.Args[1]} arrived twice.");
                    break;
                case TraceStatistics { Final: true } statistics:
                    final = statistics;
                    break;
                case TraceStatistics statistics:
                    lossReportedWhileRunning |= statistics.Lost > 0;
                    break;
                case GadgetException error:
                    throw error;
            }

            Assert.False(timeout.IsCancellationRequested, "The trace did not end.");
        }

        Assert.NotNull(final);
        Assert.True(final.LostKernel > 0, "Calls of 64 k records each overflowed no kernel ring: the test drove no overload.");
        Assert.True(final.LostAgent > 0, "Nobody read the trace while the producer ran, yet the agent's queue never overflowed.");
        Assert.True(received > 0, "Nothing was delivered.");
        Assert.True(lossReportedWhileRunning, "The loss was reported only at the end of the trace.");
        Assert.Equal(received, final.Delivered);
        Assert.Equal(0ul, final.FilteredAgent);
        Assert.Equal(0ul, final.Malformed);
        Assert.Equal(generated, final.Seen + final.LostKernel);
        Assert.Equal(generated, final.Delivered + final.Lost);
        Assert.All(sequences, sequence => Assert.InRange(sequence, 0ul, generated - 1));

        long peak = PeakResidentBytes(agent.Id);
        Assert.True(peak < AgentMemoryBound, $"The agent peaked at {peak >> 20} MiB resident.");
    }

    /// <summary>VmHWM: the most memory the process has held resident so far.</summary>
    private static long PeakResidentBytes(int pid)
    {
        string line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    [LibraryImport("libc")]
    private static partial int getppid();
}
