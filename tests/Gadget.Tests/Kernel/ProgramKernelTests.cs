using Gadget.Tracing;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>Users' programs through the real agent process and the real client: a snapshot ends by itself, a tracer sees what this test causes.</summary>
[Collection(KernelTests.Name)]
public sealed class ProgramKernelTests
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(20);

    private static string ProgramPath(string name) => Path.Combine(AppContext.BaseDirectory, "programs", name + ".bpf.o");

    [KernelFact]
    public async Task ASnapshotReturnsEveryProcessOnceAndEnds()
    {
        using AgentProcess agent = await AgentProcess.StartAsync("--allow-programs");
        var options = new TraceOptions { Gadget = "snapshot_process", Program = GadgetProgramFile.Read(ProgramPath("snapshot_process")) };
        using var timeout = new CancellationTokenSource(AnswerTimeout);

        using var session = TraceSession.Start(agent.Connection, options, "test-node", timeout.Token);
        var records = new List<GadgetRecord>();
        while (!session.IsCompleted && !timeout.IsCancellationRequested)
        {
            if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(200), timeout.Token))
            {
                switch (item)
                {
                    case GadgetRecord record:
                        records.Add(record);
                        break;
                    case GadgetException error:
                        throw error;
                }
            }
        }

        Assert.True(session.IsCompleted, "The snapshot did not end by itself.");
        GadgetRecord self = Assert.Single(records, r => r.Pid == Environment.ProcessId);
        Assert.Equal("snapshot_process", self.Gadget);
        Assert.Equal(File.ReadAllText("/proc/self/comm").Trim(), self.Comm);
        Assert.Equal(records.Count, records.Select(r => r.Pid).Distinct().Count());
        Assert.True(records.Count >= Directory.GetDirectories("/proc").Count(d => int.TryParse(Path.GetFileName(d), out _)) / 2);
        TraceStatistics statistics = Assert.IsType<TraceStatistics>(session.Statistics);
        Assert.True(statistics.Final);
        Assert.Equal((ulong)records.Count, statistics.Delivered);
        Assert.Equal(statistics.Seen, statistics.Delivered + statistics.FilteredAgent + statistics.LostAgent);
    }

    [KernelFact]
    public async Task ATracersPidFilterReachesTheProgram()
    {
        using AgentProcess agent = await AgentProcess.StartAsync("--allow-programs");
        string missing = $"/nonexistent-{Guid.NewGuid():N}";
        var options = new TraceOptions { Gadget = "trace_open", Pids = [Environment.ProcessId], MaxEvents = 1, Program = GadgetProgramFile.Read(ProgramPath("trace_open")) };
        options.Parameters["prefix"] = missing[..20];
        using var timeout = new CancellationTokenSource(AnswerTimeout);

        using var session = TraceSession.Start(agent.Connection, options, "test-node", timeout.Token);
        GadgetRecord? open = null;
        while (open is null && !timeout.IsCancellationRequested)
        {
            // An open that fails with ENOENT (File.Exists would only stat it).
            Assert.Throws<FileNotFoundException>(() => File.OpenRead(missing).Dispose());
            if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(100), timeout.Token))
            {
                open = item switch
                {
                    GadgetRecord record => record,
                    GadgetException error => throw error,
                    _ => null,
                };
            }
        }

        Assert.NotNull(open);
        Assert.Equal(Environment.ProcessId, open.Pid);
        Dictionary<string, object?> fields = open.Fields.ToDictionary(f => f.Key, f => f.Value);
        Assert.Equal(missing, fields["fname"]);
        Assert.Equal(Errno.ENOENT, fields["error_raw"]);
        Assert.Equal("OPEN_FAILED", fields["outcome"]);
    }
}
