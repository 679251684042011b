using System.Management.Automation;
using Gadget.Connection;
using Gadget.Tracing;

namespace Gadget.Commands;

/// <summary>
/// A trace cmdlet: a gadget's stream until -Duration, -MaxEvents or Ctrl+C, with its counters on
/// request.
/// </summary>
public abstract class TraceCommand : GadgetRunCommand
{
    /// <summary>Stop after this long: seconds (10), a TimeSpan (00:01:00) or 30s/5m/1h.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan Duration { get; set; }

    /// <summary>Stop after this many events.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long MaxEvents { get; set; }

    /// <summary>Write the trace's final counters (a Gadget.TraceStatistics per node) after its events.</summary>
    [Parameter]
    public SwitchParameter Statistics { get; set; }

    private protected override TimeSpan? RunDuration => MyInvocation.BoundParameters.ContainsKey(nameof(Duration)) ? Duration : null;

    private protected override long RunMaxEvents => MaxEvents;

    private protected override bool WriteStatistics => Statistics;
}

/// <summary>
/// A snapshot cmdlet (Get-Gadget…): the gadget's iterators run once on each node and their records
/// are the answer; the run ends by itself.
/// </summary>
public abstract class SnapshotCommand : GadgetRunCommand
{
}

/// <summary>
/// The parameters every gadget cmdlet shares and the loop that runs a gadget: the stream is read on
/// a background task into a bounded queue, and only this (the pipeline) thread writes output.
/// </summary>
public abstract class GadgetRunCommand : GadgetCmdlet
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>Events lost so far, per node, as already warned of.</summary>
    private readonly Dictionary<string, ulong> _lostReported = new(StringComparer.Ordinal);

    /// <summary>Processes a trace follows by pid at most (the agent's pid set).</summary>
    private const int MaxPids = 1024;

    public const string InvalidInputObjectId = "InvalidInputObject";

    /// <summary>Container ids piped in.</summary>
    private readonly List<string> _inputContainers = [];

    /// <summary>Process ids piped in.</summary>
    private readonly List<int> _inputPids = [];

    /// <summary>Events this command wrote to the pipeline.</summary>
    private long _written;

    /// <summary>How long the end of a trace waits for the agent's final counters.</summary>
    private static readonly TimeSpan FinalCountersWait = TimeSpan.FromSeconds(2);

    /// <summary>Only these processes (checked in the kernel).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateCount(1, MaxPids)]
    [ValidateRange(1, int.MaxValue)]
    [Alias("ProcessId")]
    public int[]? Pid { get; set; }

    /// <summary>
    /// Containers (Gadget.GadgetContainer, from Get-GadgetContainer) or processes
    /// (System.Diagnostics.Process, from Get-Process) to trace. Everything piped in is collected and
    /// traced at once, in one trace, when the input ends.
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    /// <summary>Only processes with this name (checked in the kernel; the kernel keeps 15 bytes of a name).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateComm]
    public string? Comm { get; set; }

    /// <summary>Only processes of this user id (checked in the kernel).</summary>
    [Parameter]
    [ValidateUid]
    public uint? Uid { get; set; }

    /// <summary>Only pods of these namespaces.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string[]? Namespace { get; set; }

    /// <summary>Pods of every namespace (and no host processes).</summary>
    [Parameter]
    public SwitchParameter AllNamespaces { get; set; }

    /// <summary>Only this pod.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string? Pod { get; set; }

    /// <summary>Only containers of this name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string? Container { get; set; }

    /// <summary>Only pods with all these labels (@{ app = 'web' }).</summary>
    [Parameter]
    [ValidateNotNull]
    public System.Collections.Hashtable? Selector { get; set; }

    /// <summary>Only processes outside any container.</summary>
    [Parameter]
    public SwitchParameter HostOnly { get; set; }

    /// <summary>Only the agents of these nodes (cluster mode).</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string[]? Node { get; set; }

    /// <summary>How long the run may last; null: until it ends or is stopped.</summary>
    private protected virtual TimeSpan? RunDuration => null;

    /// <summary>Stop after this many events; 0: no limit.</summary>
    private protected virtual long RunMaxEvents => 0;

    /// <summary>Whether the final counters are written after the events.</summary>
    private protected virtual bool WriteStatistics => false;

    /// <summary>A top's window; null for other gadgets.</summary>
    private protected virtual TimeSpan? RunInterval => null;

    /// <summary>A top: stop after this many windows; null: no limit.</summary>
    private protected virtual ulong? RunMaxWindows => null;

    /// <summary>The gadget to run.</summary>
    private protected abstract string GadgetName { get; }

    /// <summary>Adds the gadget's own parameters.</summary>
    private protected virtual void AddParameters(IDictionary<string, string> parameters)
    {
    }

    /// <summary>A user's program to run instead of a built-in gadget; null for a built-in gadget.</summary>
    private protected virtual GadgetProgramFile? ProgramFile => null;

    /// <summary>What the pipeline gets for an event.</summary>
    private protected virtual object Output(GadgetEvent gadgetEvent) => gadgetEvent is GadgetRecord record ? RecordObject.From(record) : gadgetEvent;

    /// <summary>How long the agent may take past -Duration to report what was pending when the trace ended.</summary>
    private protected virtual TimeSpan EndGrace => TimeSpan.Zero;

    /// <summary>The gadget's events this cmdlet writes; others are skipped.</summary>
    private protected virtual bool Accepts(GadgetEvent gadgetEvent) => true;

    /// <summary>Collects what is piped in; the trace runs once, over all of it, in EndProcessing.</summary>
    protected override void ProcessRecord()
    {
        if (InputObject is null)
        {
            return;
        }

        switch (InputObject.BaseObject)
        {
            case GadgetContainer container:
                _inputContainers.Add(container.Id);
                break;
            case System.Diagnostics.Process process:
                _inputPids.Add(process.Id);
                break;
            default:
                WriteError(new ErrorRecord(
                    new ArgumentException($"Cannot trace a {InputObject.BaseObject.GetType().FullName}: pipe containers (Get-GadgetContainer) or processes (Get-Process)."),
                    InvalidInputObjectId, ErrorCategory.InvalidType, InputObject.BaseObject));
                break;
        }
    }

    protected override void EndProcessing()
    {
        if (MyInvocation.ExpectingInput && _inputContainers.Count == 0 && _inputPids.Count == 0)
        {
            // Input was piped and none of it can be traced: tracing everything instead would be a surprise.
            return;
        }

        if (!Local)
        {
            RunInCluster();
            return;
        }

        TraceOptions options = BuildOptions(defaultNamespace: null);
        using LocalAgentLease agent = ConnectLocal();
        string node = GetNode(agent.Connection);
        using TraceSession session = TraceSession.Start(agent.Connection, options, node, StopToken);
        Run(session, options, [node]);
    }

    /// <summary>The same trace on every node's agent, merged into this pipeline as events arrive.</summary>
    private void RunInCluster()
    {
        using ClusterAgents cluster = ConnectCluster(Node);
        TraceOptions options = BuildOptions(cluster.Cluster.ContextNamespace);
        using ClusterTrace trace = ClusterTrace.Start([.. cluster.Agents.Select(a => (a.Pod.Node, a.Connection))], options, StopToken);
        Run(trace, options, [.. cluster.Agents.Select(a => a.Pod.Node)]);
    }

    /// <summary>
    /// The options of this invocation. In a cluster, container selectors without -Namespace or
    /// -AllNamespaces mean the kubeconfig context's namespace, as for kubectl.
    /// </summary>
    private TraceOptions BuildOptions(string? defaultNamespace)
    {
        string[]? namespaces = Namespace;
        if (defaultNamespace is not null && !HostOnly && !AllNamespaces && namespaces is not { Length: > 0 } && _inputContainers.Count == 0)
        {
            namespaces = [defaultNamespace];
        }

        var options = new TraceOptions
        {
            Gadget = GadgetName,
            Program = ProgramFile,
            Duration = RunDuration,
            MaxEvents = RunMaxEvents > 0 ? (ulong)RunMaxEvents : null,
            Interval = RunInterval,
            MaxWindows = RunMaxWindows,
            Pids = Pids(),
            Uid = Uid,
            Comm = Comm,
            Containers = ContainerSelectionParameters.Build(this, namespaces, AllNamespaces, Pod, Container, Selector, HostOnly, _inputContainers),
        };
        AddParameters(options.Parameters);
        return options;
    }

    /// <summary>-Pid and the processes piped in; null for all.</summary>
    private int[]? Pids()
    {
        int[] pids = [.. (Pid ?? []).Concat(_inputPids).Distinct()];
        if (pids.Length > MaxPids)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"A trace follows at most {MaxPids} processes by id; {pids.Length} were given. Select fewer, or select by -Comm or container."),
                "TooManyProcesses", ErrorCategory.InvalidArgument, pids.Length));
        }

        return pids.Length > 0 ? pids : null;
    }

    private string GetNode(AgentConnection connection)
    {
        try
        {
            return connection.GetInfoAsync(StopToken).GetAwaiter().GetResult().Node;
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, connection.Target));
            throw;
        }
    }

    /// <summary>Writes what the run sends until it ends or is stopped; <paramref name="nodes"/> are the nodes it runs on.</summary>
    private protected virtual void Run(ITraceSource session, TraceOptions options, IReadOnlyList<string> nodes)
    {
        DateTime? deadline = options.Duration is TimeSpan duration ? DateTime.UtcNow + duration + EndGrace + TimeSpan.FromSeconds(5) : null;
        while (!StopToken.IsCancellationRequested)
        {
            if (!session.TryTake(out object? item, PollInterval, StopToken))
            {
                if (session.IsCompleted || DateTime.UtcNow > deadline)
                {
                    break;
                }

                continue;
            }

            switch (item)
            {
                case GadgetEvent gadgetEvent when Accepts(gadgetEvent):
                    WriteObject(Output(gadgetEvent));
                    if (++_written >= RunMaxEvents && RunMaxEvents > 0)
                    {
                        // The agent stops at the same count and sends its final counters after the events.
                        WaitForFinalCounters(session);
                        ReportEnd(session);
                        return;
                    }

                    break;
                case TopWindowRows window:
                    // A top run by name: each window whole, largest main figure first.
                    foreach ((GadgetEvent row, TopWindowRows part) in TopWindowMerger.Sorted(window))
                    {
                        WriteObject(TopCommand.RowObject(row, part));
                    }

                    break;
                case TraceStatistics statistics:
                    WarnOfLoss(statistics);
                    break;
                case NodeFailure failure:
                    WriteError(NodeError(failure));
                    break;
                case TraceNotice notice:
                    WriteWarning(string.IsNullOrEmpty(notice.Node) ? notice.Message : $"{notice.Node}: {notice.Message}");
                    break;
                case GadgetException exception:
                    ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, session.Target));
                    break;
            }
        }

        ReportEnd(session);
    }

    private protected static ErrorRecord NodeError(NodeFailure failure)
    {
        ErrorRecord record = GadgetErrors.ToErrorRecord(failure.Exception, failure.Node);
        string message = failure.Exception.Message.Contains(failure.Node, StringComparison.Ordinal)
            ? failure.Exception.Message
            : $"Node {failure.Node}: {failure.Exception.Message}";
        record.ErrorDetails = new ErrorDetails(message) { RecommendedAction = failure.Exception.RecommendedAction };
        return record;
    }

    private static void WaitForFinalCounters(ITraceSource session)
    {
        DateTime deadline = DateTime.UtcNow + FinalCountersWait;
        while (!(session.Statistics.Any() && session.Statistics.All(statistics => statistics.Final)) && !session.IsCompleted && DateTime.UtcNow < deadline)
        {
            // Events past the budget are not written; counters and notices are kept in Statistics.
            _ = session.TryTake(out _, TimeSpan.FromMilliseconds(50), CancellationToken.None);
        }
    }

    /// <summary>Warns of the events a node lost since its last warning.</summary>
    private void WarnOfLoss(TraceStatistics statistics)
    {
        _lostReported.TryGetValue(statistics.Node ?? string.Empty, out ulong reported);
        if (statistics.Lost > reported)
        {
            WriteWarning(LossMessage(statistics, statistics.Lost - reported));
            _lostReported[statistics.Node ?? string.Empty] = statistics.Lost;
        }
    }

    private void ReportEnd(ITraceSource session)
    {
        foreach (TraceStatistics statistics in session.Statistics)
        {
            WarnOfLoss(statistics);
            WriteVerbose($"Trace ended{(string.IsNullOrEmpty(statistics.Node) ? string.Empty : " on " + statistics.Node)}: {statistics.Delivered} events delivered, {statistics.Seen} read from the kernel, " +
                $"{statistics.Lost} lost (kernel ring full {statistics.LostKernel}, agent queue full {statistics.LostAgent}), " +
                $"{statistics.FilteredAgent} filtered in the agent{(statistics.Final ? string.Empty : " (counters of the last report; the agent sent no final ones)")}.");
            if (WriteStatistics)
            {
                WriteObject(statistics);
            }
        }

        // What reached this pipeline, the last hop the agents' counters cannot see.
        WriteVerbose($"Wrote {_written} events.");
    }

    private static string LossMessage(TraceStatistics statistics, ulong newlyLost) =>
        $"{newlyLost} events lost{(string.IsNullOrEmpty(statistics.Node) ? string.Empty : " on " + statistics.Node)} " +
        $"(so far: kernel ring full {statistics.LostKernel}, agent queue full {statistics.LostAgent}). " +
        "Narrow the trace with filters (-Pid, -Comm, -Uid) or consume the output faster.";
}
