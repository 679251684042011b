using Gadget.Tests.Kernel;
using Gadget.Tracing;
using Xunit;
using TraceOptions = Gadget.Tracing.TraceOptions;

namespace Gadget.Tests.Containers;

/// <summary>Exec traces through a real agent, collected to their end.</summary>
internal static class ExecTraces
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs a trace to its end; <paramref name="whileTracing"/> runs once the programs are attached.</summary>
    public static async Task<(List<ExecEvent> Events, TraceStatistics Statistics)> CollectAsync(AgentProcess agent, TraceOptions options, Action? whileTracing = null)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        using var session = TraceSession.Start(agent.Connection, options, "node-a", timeout.Token);
        var events = new List<ExecEvent>();
        await session.Attached.WaitAsync(timeout.Token);
        whileTracing?.Invoke();
        await Task.Run(() =>
        {
            while (!session.IsCompleted)
            {
                if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(200), timeout.Token))
                {
                    switch (item)
                    {
                        case ExecEvent exec:
                            events.Add(exec);
                            break;
                        case GadgetException failure:
                            throw failure;
                    }
                }
            }
        });
        TraceStatistics statistics = session.Statistics ?? throw new InvalidOperationException("The trace ended without counters.");
        Assert.True(statistics.Final, "The last counters were not the final ones.");
        return (events, statistics);
    }
}
