using System.Globalization;
using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>
/// Trace-GadgetDns: DNS queries and responses of every process (UDP and TCP, IPv4 and IPv6), with
/// the response code, the addresses answered, the nameserver and the latency; and queries that got
/// no response within -ResponseTimeout, as events whose Rcode is NoResponse.
/// </summary>
[Cmdlet(VerbsDiagnostic.Trace, "GadgetDns", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(DnsEvent), typeof(TraceStatistics))]
public sealed class TraceDnsCommand : TraceCommand
{
    /// <summary>
    /// Only messages whose first question's name matches one of these (wildcards * ? [a-z]; case
    /// insensitive; a trailing dot is optional). Matched in the agent.
    /// </summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>Only queries or only responses (checked in the kernel).</summary>
    [Parameter]
    public DnsQr Qr { get; set; }

    /// <summary>The ports that carry DNS, UDP and TCP alike (default 53 and 5353; checked in the kernel).</summary>
    [Parameter]
    [ValidateCount(1, 16)]
    [ValidateRange(1, 65535)]
    public int[]? Port { get; set; }

    /// <summary>
    /// How long a query may wait for its response before it is reported as unanswered (an event
    /// with Rcode NoResponse). Seconds (2), a TimeSpan or 500ms/2s/1m. Default: 5 seconds. When
    /// -Duration ends, the trace waits up to this long for the queries still open, then reports
    /// those still unanswered, so a query sent during the trace never goes unreported; a query
    /// answered in that wait is not reported (its response came after the trace).
    /// </summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan ResponseTimeout { get; set; }

    private protected override string GadgetName => "dns";

    /// <summary>At the end of -Duration the agent waits up to the response timeout for queries still open.</summary>
    private protected override TimeSpan EndGrace
        => (MyInvocation.BoundParameters.ContainsKey(nameof(ResponseTimeout)) ? ResponseTimeout : TimeSpan.FromSeconds(5)) + TimeSpan.FromSeconds(1);

    private protected override void AddParameters(IDictionary<string, string> parameters)
    {
        if (Name is { Length: > 0 })
        {
            parameters["name"] = string.Join(',', Name);
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(Qr)))
        {
            parameters["qr"] = Qr == DnsQr.Query ? "query" : "response";
        }

        if (Port is { Length: > 0 })
        {
            parameters["ports"] = string.Join(',', Port.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(ResponseTimeout)))
        {
            parameters["response-timeout-ms"] = Math.Max(1, (long)Math.Ceiling(ResponseTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        }
    }
}
