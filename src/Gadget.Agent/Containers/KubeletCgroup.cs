namespace Gadget.Agent.Containers;

/// <summary>
/// The pod uid in the cgroup paths the kubelet creates, for containers whose runtime carries no
/// kubelet labels (runc or crun under CRI-O, or a runtime the agent cannot ask):
/// systemd driver <c>/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b_….slice/…</c>,
/// cgroupfs driver <c>/kubepods/besteffort/pod1a2b-…/…</c> (guaranteed pods sit directly under kubepods).
/// </summary>
internal static class KubeletCgroup
{
    /// <summary>The pod uid (as the API server writes it), or empty when the path is no pod's.</summary>
    public static string PodUidOf(string cgroupPath)
    {
        bool underKubepods = false;
        foreach (string segment in cgroupPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            // kubelet's --cgroup-root, or a runtime's own nesting (kind, k3s in docker), may come first;
            // seen from a cgroup namespace, the pod's own slice may be the first segment.
            underKubepods = underKubepods || segment.StartsWith("kubepods", StringComparison.Ordinal);
            if (!underKubepods)
            {
                continue;
            }

            string name = segment.EndsWith(".slice", StringComparison.Ordinal)
                // systemd: the unit name's last dash-separated part, with the uid's dashes escaped as '_'.
                ? segment[(segment.LastIndexOf('-') + 1)..^".slice".Length].Replace('_', '-')
                : segment;
            if (name.StartsWith("pod", StringComparison.Ordinal) && Guid.TryParseExact(name.AsSpan(3), "D", out _))
            {
                return name[3..];
            }
        }

        return string.Empty;
    }
}
