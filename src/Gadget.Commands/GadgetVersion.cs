namespace Gadget;

/// <summary>The client's version and one agent's.</summary>
/// <remarks>In a cluster where Gadget is not installed, one object whose AgentVersion is "not installed".</remarks>
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
