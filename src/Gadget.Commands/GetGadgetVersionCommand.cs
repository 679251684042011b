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

    protected override void EndProcessing()
    {
        if (!Local)
        {
            ThrowClusterUnavailable();
        }

        using LocalAgentLease agent = ConnectLocal();
        AgentInfo info;
        try
        {
            info = agent.Connection.GetInfoAsync(PipelineStopToken).GetAwaiter().GetResult();
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
            agent.StartedAgent ? "started for this command" : agent.SocketPath));
    }
}

/// <summary>The client's version and one agent's.</summary>
public sealed class GadgetVersion(string clientVersion, string node, string agentVersion, uint protocolVersion, string kernel, string[] gadgets, string agent)
{
    public string ClientVersion { get; } = clientVersion;

    /// <summary>The agent's node; empty on a host outside Kubernetes.</summary>
    public string Node { get; } = node;

    public string AgentVersion { get; } = agentVersion;

    public uint ProtocolVersion { get; } = protocolVersion;

    /// <summary>The kernel release the agent runs on.</summary>
    public string Kernel { get; } = kernel;

    /// <summary>The gadgets the agent carries.</summary>
    public IReadOnlyList<string> Gadgets { get; } = gadgets;

    /// <summary>Where the agent was reached.</summary>
    public string Agent { get; } = agent;
}
