using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

namespace Gadget.Agent;

/// <summary>The agent's log lines, compiled once.</summary>
internal static partial class AgentLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Trace {Gadget} could not start: {Reason}")]
    public static partial void TraceFailed(ILogger logger, string gadget, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Trace {Gadget} started for {Peer}")]
    public static partial void TraceStarted(ILogger logger, string gadget, string peer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Trace {Gadget} ended: {Counters}")]
    public static partial void TraceEnded(ILogger logger, string gadget, Gadget.Protocol.V1.TraceCounters counters);
}
