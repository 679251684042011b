using Gadget.Protocol.V1;

namespace Gadget;

/// <summary>A container an agent knows on its node (Get-GadgetContainer), and where events come from.</summary>
public sealed class GadgetContainer
{
    internal GadgetContainer(ContainerInfo info, string node)
    {
        Node = node;
        Id = info.Id;
        Name = info.Name;
        Runtime = info.Runtime;
        RuntimeNamespace = info.RuntimeNamespace;
        Image = info.Image;
        Pid = (int)info.Pid;
        MountNsId = info.MntnsId;
        NetNsId = info.NetnsId;
        CgroupPath = info.CgroupPath;
        Namespace = Nullable(info.PodNamespace);
        Pod = Nullable(info.PodName);
        PodUid = Nullable(info.PodUid);
        Container = Nullable(info.ContainerName) ?? info.Name;
        PodLabels = new Gadget.PodLabels(new Dictionary<string, string>(info.PodLabels, StringComparer.Ordinal));
    }

    public string Node { get; }

    public string Id { get; }

    /// <summary>The runtime's name for the container.</summary>
    public string Name { get; }

    /// <summary>containerd or runc.</summary>
    public string Runtime { get; }

    /// <summary>The runtime's namespace (containerd's k8s.io, default …), not the pod's.</summary>
    public string RuntimeNamespace { get; }

    public string Image { get; }

    /// <summary>The container's first process, as the host sees it.</summary>
    public int Pid { get; }

    public ulong MountNsId { get; }

    public ulong NetNsId { get; }

    public string CgroupPath { get; }

    /// <summary>The pod's namespace; null outside Kubernetes.</summary>
    public string? Namespace { get; }

    public string? Pod { get; }

    public string? PodUid { get; }

    /// <summary>The container's name in its pod (or the runtime's name outside Kubernetes).</summary>
    public string Container { get; }

    /// <summary>The pod's labels.</summary>
    public IReadOnlyDictionary<string, string> PodLabels { get; }

    private static string? Nullable(string value) => value.Length == 0 ? null : value;
}
