using System.Management.Automation;
using System.Reflection;
using Gadget.Connection;
using Gadget.Protocol.V1;

namespace Gadget.Commands;

/// <summary>Get-GadgetVersion: this module's version and the agent's.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetVersion", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(GadgetVersion))]
public sealed class GetGadgetVersionCommand : GadgetCmdlet
{
    internal static string ClientVersion { get; } =
        typeof(GetGadgetVersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Only the agents of these nodes (cluster mode).</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    public string[]? Node { get; set; }

    internal const string NotInstalled = "not installed";

    /// <summary>The client's version, and each node's agent version, or "not installed".</summary>
    private void GetInCluster()
    {
        using Kubernetes.KubeCluster cluster = OpenCluster();
        string? ns = Await(cluster.FindInstallNamespaceAsync(StopToken), cluster.Server);
        IReadOnlyList<Kubernetes.AgentPod> pods = ns is null ? [] : Await(cluster.FindAgentsAsync(ns, Node, StopToken), ns);
        if (pods.Count == 0)
        {
            WriteObject(new GadgetVersion(ClientVersion, string.Empty, NotInstalled, 0, string.Empty, [], cluster.Server));
            return;
        }

        var queries = pods.Select(pod => (Pod: pod, Task: QueryAsync(cluster, pod))).ToList();
        foreach ((Kubernetes.AgentPod pod, Task<GadgetVersion> query) in queries)
        {
            try
            {
                WriteObject(query.GetAwaiter().GetResult());
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (GadgetException exception)
            {
                ErrorRecord record = GadgetErrors.ToErrorRecord(exception, pod.Node);
                record.ErrorDetails = new ErrorDetails($"Node {pod.Node}: {exception.Message}");
                WriteError(record);
            }
        }
    }

    private async Task<GadgetVersion> QueryAsync(Kubernetes.KubeCluster cluster, Kubernetes.AgentPod pod)
    {
        if (!pod.Ready)
        {
            throw new GadgetException(GadgetErrorId.AgentNotReady, GadgetErrorKind.Connection,
                $"the agent pod {pod.Namespace}/{pod.Name} is not ready: {pod.NotReadyReason}.");
        }

        using AgentConnection connection = cluster.Connect(pod);
        AgentInfo info = await connection.GetInfoAsync(StopToken).ConfigureAwait(false);
        return new GadgetVersion(ClientVersion, string.IsNullOrEmpty(info.Node) ? pod.Node : info.Node, info.Version, info.ProtocolVersion,
            info.Kernel, [.. info.Gadgets.Select(g => g.Name)], $"pod {pod.Namespace}/{pod.Name}");
    }

    protected override void EndProcessing()
    {
        if (!Local)
        {
            GetInCluster();
            return;
        }

        using LocalAgentLease agent = ConnectLocal();
        AgentInfo info;
        try
        {
            info = agent.Connection.GetInfoAsync(StopToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, agent.SocketPath));
            return;
        }

        WriteObject(new GadgetVersion(
            ClientVersion,
            info.Node,
            info.Version,
            info.ProtocolVersion,
            info.Kernel,
            [.. info.Gadgets.Select(g => g.Name)],
            agent.IsPrivate ? $"private agent (pid {agent.PrivateAgentProcessId}) at {agent.SocketPath}" : agent.SocketPath));
    }
}
