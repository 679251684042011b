namespace Gadget.Tracing;

/// <summary>Something an agent wants the user to know while the trace runs.</summary>
public sealed record TraceNotice(string Node, string Id, string Message);
