using Gadget.Protocol.V1;

namespace Gadget.Agent.Containers;

/// <summary>A request's <see cref="ContainerSelector"/> as a predicate; null selector: everything.</summary>
internal sealed class ContainerSelection
{
    private readonly ContainerSelector? _selector;

    public ContainerSelection(ContainerSelector? selector) => _selector = selector;

    /// <summary>True when some processes are excluded, so the kernel must check mount namespaces.</summary>
    public bool IsFiltering => _selector is not null;

    public bool IncludesHost => _selector?.Host ?? true;

    public bool Matches(ContainerRecord container)
    {
        if (_selector is null)
        {
            return true;
        }

        if (!_selector.Containers)
        {
            return false;
        }

        return (_selector.Ids.Count == 0 || _selector.Ids.Contains(container.Id))
            && (_selector.Namespaces.Count == 0 || _selector.Namespaces.Contains(container.PodNamespace))
            && (_selector.Pod.Length == 0 || _selector.Pod == container.PodName)
            && (_selector.Container.Length == 0 || _selector.Container == container.ContainerName)
            && _selector.Labels.All(label => container.PodLabels.TryGetValue(label.Key, out string? value) && value == label.Value);
    }

    /// <summary>What was asked, for the "nothing matches yet" notice.</summary>
    public string Describe()
    {
        if (_selector is null)
        {
            return "everything";
        }

        var parts = new List<string>();
        if (_selector.Ids.Count > 0)
        {
            parts.Add("container id " + string.Join(", ", _selector.Ids.Select(id => id.Length > 12 ? id[..12] : id)));
        }

        if (_selector.Namespaces.Count > 0)
        {
            parts.Add("namespace " + string.Join(", ", _selector.Namespaces));
        }

        if (_selector.Pod.Length > 0)
        {
            parts.Add("pod " + _selector.Pod);
        }

        if (_selector.Container.Length > 0)
        {
            parts.Add("container " + _selector.Container);
        }

        if (_selector.Labels.Count > 0)
        {
            parts.Add("labels " + string.Join(", ", _selector.Labels.Select(l => $"{l.Key}={l.Value}")));
        }

        return parts.Count > 0 ? string.Join("; ", parts) : "all containers";
    }
}

/// <summary>Converts agent records to the wire form.</summary>
internal static class ContainerInfoMapper
{
    public static ContainerInfo ToInfo(this ContainerRecord container)
    {
        var info = new ContainerInfo
        {
            Id = container.Id,
            Name = container.Name,
            Runtime = container.Runtime,
            RuntimeNamespace = container.RuntimeNamespace,
            Image = container.Image,
            Pid = (uint)container.Pid,
            MntnsId = container.MountNsId,
            NetnsId = container.NetNsId,
            CgroupPath = container.CgroupPath,
            PodNamespace = container.PodNamespace,
            PodName = container.PodName,
            PodUid = container.PodUid,
            ContainerName = container.ContainerName,
        };
        foreach ((string key, string value) in container.PodLabels)
        {
            info.PodLabels[key] = value;
        }

        return info;
    }
}
