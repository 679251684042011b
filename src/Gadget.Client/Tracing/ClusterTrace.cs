using Gadget.Connection;

namespace Gadget.Tracing;

/// <summary>A node whose trace failed while others go on: a non-terminating error.</summary>
public sealed record NodeFailure(string Node, GadgetException Exception);

/// <summary>
/// One trace on many agents (one per node): a <see cref="TraceSession"/> each, their items merged
/// into one bounded queue as they arrive, each node's chunks of events whole. A node that fails
/// becomes a <see cref="NodeFailure"/> and the others continue; when every node has failed, the
/// last failure arrives as the <see cref="GadgetException"/> itself, which ends the trace.
/// </summary>
public sealed class ClusterTrace : ITraceSource
{
    private static readonly TimeSpan PumpInterval = TimeSpan.FromMilliseconds(200);

    private readonly ItemQueue _queue;
    private readonly ItemTaker _taker;
    private readonly CancellationTokenSource _cancel;
    private readonly List<TraceSession> _sessions = [];
    private readonly Task _pumps;
    private int _failed;

    private ClusterTrace(IReadOnlyList<(string Node, AgentConnection Connection)> agents, TraceOptions options, CancellationToken token)
    {
        _queue = new ItemQueue(TraceSession.SlotsFor(options));
        _taker = new ItemTaker(_queue);
        Target = string.Join(", ", agents.Select(agent => agent.Node));
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(token);
        var pumps = new List<Task>();
        foreach ((string node, AgentConnection connection) in agents)
        {
            TraceSession session = TraceSession.Start(connection, options, node, _cancel.Token);
            _sessions.Add(session);
            pumps.Add(Task.Run(() => Pump(node, session, agents.Count), CancellationToken.None));
        }

        _pumps = Task.WhenAll(pumps).ContinueWith(_ => _queue.CompleteAdding(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Starts the trace on every agent; failures arrive as items.</summary>
    public static ClusterTrace Start(IReadOnlyList<(string Node, AgentConnection Connection)> agents, TraceOptions options, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(agents);
        ArgumentOutOfRangeException.ThrowIfZero(agents.Count);
        return new ClusterTrace(agents, options, token);
    }

    /// <summary>The nodes traced.</summary>
    public string Target { get; }

    /// <summary>Completes when every agent has attached its programs or failed.</summary>
    public Task Attached => Task.WhenAll(_sessions.Select(s => s.Attached));

    /// <summary>The latest counters of each node.</summary>
    public IEnumerable<TraceStatistics> Statistics => _sessions.Select(s => s.Statistics).OfType<TraceStatistics>();

    /// <summary>As <see cref="TraceSession.TryTake"/>, plus <see cref="NodeFailure"/> items.</summary>
    public bool TryTake(out object? item, TimeSpan timeout, CancellationToken token) => _taker.TryTake(out item, timeout, token);

    public bool IsCompleted => _taker.IsCompleted;

    public void Dispose()
    {
        _cancel.Cancel();
        foreach (TraceSession session in _sessions)
        {
            session.Dispose();
        }

        _pumps.Wait(TimeSpan.FromSeconds(5));
        _cancel.Dispose();
    }

    private void Pump(string node, TraceSession session, int total)
    {
        CancellationToken token = _cancel.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                if (!session.TryTakeSlot(out object? item, PumpInterval, token))
                {
                    if (session.AllSlotsTaken)
                    {
                        return;
                    }

                    continue;
                }

                if (item is GadgetException exception)
                {
                    bool last = Interlocked.Increment(ref _failed) == total;
                    _queue.Add(last ? exception : new NodeFailure(node, exception), token);
                    return;
                }

                _queue.Add(item!, token);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped by the caller.
        }
        catch (InvalidOperationException)
        {
            // The queue was completed while stopping.
        }
    }
}
