using System.Collections.Concurrent;
using System.Management.Automation;
using Gadget.Connection;
using Gadget.Kubernetes;

namespace Gadget.Commands;

/// <summary>What every Gadget cmdlet shares: where the agents are, and how failures become ErrorRecords.</summary>
public abstract class GadgetCmdlet : ClusterCmdlet
{
    protected const string LocalParameterSet = "Local";

    /// <summary>Talk to the agent on this host (started for the command when none runs and the caller is root).</summary>
    /// <remarks>
    /// Not mandatory: without it the cmdlets go to the cluster of the kubeconfig. A mandatory switch
    /// would fail binding instead, or prompt for it in an interactive shell.
    /// </remarks>
    [Parameter(ParameterSetName = LocalParameterSet)]
    public SwitchParameter Local { get; set; }

    /// <summary>
    /// Finds the agent pods of the cluster (only those on <paramref name="nodes"/> when given) and
    /// connects to the ready ones. A node whose agent is missing or not ready is a non-terminating
    /// error; no usable agent at all terminates the command.
    /// </summary>
    private protected ClusterAgents ConnectCluster(string[]? nodes)
    {
        KubeCluster cluster = OpenCluster();
        try
        {
            string? ns = Await(cluster.FindInstallNamespaceAsync(StopToken), cluster.Server);
            if (ns is null)
            {
                ThrowTerminatingError(GadgetErrors.ToErrorRecord(new GadgetException(GadgetErrorId.GadgetNotInstalled, GadgetErrorKind.NotFound,
                    $"Gadget is not installed in the cluster at {cluster.Server}.")
                {
                    RecommendedAction = "Run Install-Gadget, or add -Local to trace this host.",
                }, cluster.Server));
            }

            IReadOnlyList<AgentPod> pods = Await(cluster.FindAgentsAsync(ns!, nodes, StopToken), ns);
            foreach (string node in nodes ?? [])
            {
                if (!pods.Any(p => string.Equals(p.Node, node, StringComparison.OrdinalIgnoreCase)))
                {
                    WriteError(GadgetErrors.ToErrorRecord(new GadgetException(GadgetErrorId.AgentNotFound, GadgetErrorKind.NotFound,
                        $"Node {node}: no Gadget agent runs there (namespace {ns}).")
                    {
                        RecommendedAction = "Check the node's name (Get-GadgetVersion lists the nodes with an agent), its taints and the DaemonSet's node selector.",
                    }, node));
                }
            }

            var ready = new List<(AgentPod, AgentConnection)>();
            foreach (AgentPod pod in pods)
            {
                if (pod.Ready)
                {
                    ready.Add((pod, cluster.Connect(pod)));
                    continue;
                }

                WriteError(GadgetErrors.ToErrorRecord(new GadgetException(GadgetErrorId.AgentNotReady, GadgetErrorKind.Connection,
                    $"Node {pod.Node}: the agent pod {pod.Namespace}/{pod.Name} is not ready: {pod.NotReadyReason}."), pod.Node));
            }

            if (ready.Count == 0)
            {
                ThrowTerminatingError(GadgetErrors.ToErrorRecord(new GadgetException(GadgetErrorId.AgentNotReady, GadgetErrorKind.Connection,
                    pods.Count == 0
                        ? $"No Gadget agent runs{(nodes is { Length: > 0 } ? " on " + string.Join(", ", nodes) : string.Empty)} (namespace {ns})."
                        : $"None of the {pods.Count} Gadget agents is ready (namespace {ns}).")
                {
                    RecommendedAction = "Install-Gadget -Wait shows the agents' state and why they are not ready.",
                }, ns));
            }

            return new ClusterAgents(cluster, ready);
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Connects to the local agent, showing progress while a private agent starts.</summary>
    private protected LocalAgentLease ConnectLocal()
    {
        var messages = new ConcurrentQueue<string>();
        Task<LocalAgentLease> connecting = LocalAgent.ConnectAsync(messages.Enqueue, StopToken);
        var progress = new ProgressRecord(1, "Gadget", "Connecting to the local agent");
        bool shown = false;
        // Wait on the handle, not Task.Wait: a faulted task must reach the catch blocks below as
        // its own exception (NotRoot, AgentNotFound …), not wrapped in an AggregateException.
        while (!((IAsyncResult)connecting).AsyncWaitHandle.WaitOne(100))
        {
            while (messages.TryDequeue(out string? message))
            {
                progress.StatusDescription = message;
                WriteProgress(progress);
                shown = true;
            }
        }

        if (shown)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }

        try
        {
            return connecting.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, target: LocalAgent.SocketPath));
            throw; // not reached: ThrowTerminatingError always throws
        }
    }
}

/// <summary>The agents of a cluster a command talks to, connected through port-forwards.</summary>
internal sealed class ClusterAgents(KubeCluster cluster, IReadOnlyList<(AgentPod Pod, AgentConnection Connection)> agents) : IDisposable
{
    public KubeCluster Cluster { get; } = cluster;

    public IReadOnlyList<(AgentPod Pod, AgentConnection Connection)> Agents { get; } = agents;

    public void Dispose()
    {
        foreach ((_, AgentConnection connection) in Agents)
        {
            connection.Dispose();
        }

        Cluster.Dispose();
    }
}

/// <summary>The one place where client failures become PowerShell errors.</summary>
internal static class GadgetErrors
{
    public static ErrorRecord ToErrorRecord(GadgetException exception, object? target)
    {
        ErrorCategory category = exception.Kind switch
        {
            GadgetErrorKind.Connection => ErrorCategory.ConnectionError,
            GadgetErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            GadgetErrorKind.NotFound => ErrorCategory.ObjectNotFound,
            GadgetErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            GadgetErrorKind.NotSupported => ErrorCategory.NotInstalled,
            GadgetErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            GadgetErrorKind.Timeout => ErrorCategory.OperationTimeout,
            _ => ErrorCategory.NotSpecified,
        };
        var record = new ErrorRecord(exception, exception.ErrorId, category, target);
        if (exception.RecommendedAction is not null)
        {
            record.ErrorDetails = new ErrorDetails(exception.Message) { RecommendedAction = exception.RecommendedAction };
        }

        return record;
    }
}
