using Grpc.Core;

namespace Gadget.Agent.Services;

/// <summary>
/// Bounds the traces an agent runs at once. Each one holds its programs, its maps and a ring that
/// the reader maps twice; without a bound, anyone who may reach the agent (in a cluster, anyone
/// allowed to port-forward to its pod) could start traces until the node's agent is OOM-killed.
/// </summary>
internal sealed class TraceAdmission(int maxTraces, string nodeName)
{
    public const string TooManyTracesId = "TooManyTraces";

    private int _running;

    public int MaxTraces { get; } = maxTraces;

    /// <summary>Traces admitted and not yet ended.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Admits one trace until the returned lease is disposed; refuses one past the limit with TooManyTraces.</summary>
    public IDisposable Admit()
    {
        if (Interlocked.Increment(ref _running) > MaxTraces)
        {
            Interlocked.Decrement(ref _running);
            string agent = string.IsNullOrEmpty(nodeName) ? "This agent" : $"The agent on {nodeName}";
            throw AgentErrors.Create(StatusCode.ResourceExhausted, TooManyTracesId,
                $"{agent} already runs {MaxTraces} traces, as many as it runs at once (its --max-traces). Run the trace again once another has ended.");
        }

        return new Lease(this);
    }

    private sealed class Lease(TraceAdmission admission) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref admission._running);
            }
        }
    }
}
