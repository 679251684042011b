using System.Collections;
using System.Globalization;
using System.Management.Automation;
using Gadget.Kubernetes;
using k8s;
using k8s.Models;

namespace Gadget.Commands;

/// <summary>
/// Install-Gadget: applies the objects of deploy/ (namespace, service account, RBAC, the agents'
/// DaemonSet) with server-side apply; a second install changes nothing.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "Gadget", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ClusterParameterSet)]
[OutputType(typeof(GadgetObject))]
public sealed class InstallGadgetCommand : ClusterCmdlet
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The namespace of the agents (default gadget).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string Namespace { get; set; } = KubeCluster.DefaultInstallNamespace;

    /// <summary>The agent image (default: the one in deploy/03-daemonset.yaml).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Image { get; set; }

    /// <summary>Node labels the agents' nodes must carry (@{ pool = 'sys' }), besides kubernetes.io/os=linux.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? NodeSelector { get; set; }

    /// <summary>Wait until every agent is ready, showing progress.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>How long -Wait waits (default 5 minutes).</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Write an object for each Kubernetes object applied.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Let the agents run users' own eBPF programs (Invoke-GadgetProgram); whoever may port-forward to their pods can then load programs on every node.</summary>
    [Parameter]
    public SwitchParameter AllowPrograms { get; set; }

    protected override void EndProcessing()
    {
        using KubeCluster cluster = OpenCluster();
        var installer = new GadgetInstaller(cluster);
        var options = new InstallOptions { Namespace = Namespace, Image = Image, NodeSelector = Labels(NodeSelector), AllowPrograms = AllowPrograms };
        IReadOnlyList<IKubernetesObject<V1ObjectMeta>> plan = Await(installer.PlanAsync(options, StopToken), Namespace);
        bool applied = false;
        foreach (IKubernetesObject<V1ObjectMeta> item in plan)
        {
            string description = Describe(item);
            if (!ShouldProcess(description, "Server-side apply"))
            {
                continue;
            }

            GadgetObject result = Await(installer.ApplyAsync(item, StopToken), description);
            applied = true;
            WriteVerbose($"{description}: {result.Action.ToLowerInvariant()}.");
            if (PassThru)
            {
                WriteObject(result);
            }
        }

        if (Wait && applied)
        {
            WaitForAgents(cluster, installer);
        }
    }

    private void WaitForAgents(KubeCluster cluster, GadgetInstaller installer)
    {
        var progress = new ProgressRecord(2, "Install-Gadget", $"Waiting for the agents in namespace {Namespace}");
        DateTime deadline = DateTime.UtcNow + Timeout;
        AgentRollout rollout;
        while (true)
        {
            rollout = Await(installer.GetRolloutAsync(Namespace, StopToken), Namespace);
            progress.StatusDescription = $"Agents ready: {rollout.Ready}/{rollout.Desired}";
            progress.PercentComplete = rollout.Desired == 0 ? 0 : Math.Min(100, 100 * rollout.Ready / rollout.Desired);
            WriteProgress(progress);
            if (rollout.Complete || DateTime.UtcNow >= deadline)
            {
                break;
            }

            if (StopToken.WaitHandle.WaitOne(PollInterval))
            {
                throw new PipelineStoppedException();
            }
        }

        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        if (rollout.Complete)
        {
            WriteVerbose($"Agents ready: {rollout.Ready}/{rollout.Desired}.");
            return;
        }

        IReadOnlyList<AgentPod> pods = Await(cluster.FindAgentsAsync(Namespace, nodes: null, StopToken), Namespace);
        string failing = string.Join("; ", pods.Where(p => !p.Ready).Select(p => $"{p.Name} on {p.Node}: {p.NotReadyReason}"));
        string message = rollout.Desired == 0
            ? $"No node runs a Gadget agent after {Format(Timeout)}: no Linux node matches the DaemonSet's node selector."
            : $"Only {rollout.Ready} of {rollout.Desired} Gadget agents were ready after {Format(Timeout)}." +
              (failing.Length > 0 ? $" Not ready: {failing}." : string.Empty);
        ThrowTerminatingError(GadgetErrors.ToErrorRecord(new GadgetException(GadgetErrorId.AgentsNotReadyInTime, GadgetErrorKind.Failure, message)
        {
            RecommendedAction = $"Look at the pods: kubectl get pods -n {Namespace} -o wide; kubectl describe pod -n {Namespace} NAME. Or wait longer with -Timeout.",
        }, Namespace));
    }

    private static string Format(TimeSpan span) => span.TotalSeconds < 120
        ? span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s"
        : span.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture) + " min";

    internal static string Describe(IKubernetesObject<V1ObjectMeta> item)
        => item.Metadata.NamespaceProperty is { } ns ? $"{item.Kind} {ns}/{item.Metadata.Name}" : $"{item.Kind} {item.Metadata.Name}";

    private static Dictionary<string, string> Labels(Hashtable? table)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table ?? [])
        {
            labels[Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!] =
                Convert.ToString(entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value, CultureInfo.InvariantCulture) ?? string.Empty;
        }

        return labels;
    }
}

/// <summary>Uninstall-Gadget: deletes every object Install-Gadget created.</summary>
[Cmdlet(VerbsLifecycle.Uninstall, "Gadget", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ClusterParameterSet)]
[OutputType(typeof(GadgetObject))]
public sealed class UninstallGadgetCommand : ClusterCmdlet
{
    /// <summary>The namespace Gadget was installed in (default: the one its ClusterRoleBinding names).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string? Namespace { get; set; }

    /// <summary>Write an object for each Kubernetes object deleted.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        using KubeCluster cluster = OpenCluster();
        var installer = new GadgetInstaller(cluster);
        IReadOnlyList<IKubernetesObject<V1ObjectMeta>> plan = Await(installer.PlanRemovalAsync(Namespace, StopToken), Namespace);
        foreach (IKubernetesObject<V1ObjectMeta> item in plan)
        {
            string description = InstallGadgetCommand.Describe(item);
            if (!ShouldProcess(description, "Delete"))
            {
                continue;
            }

            GadgetObject result = Await(installer.DeleteAsync(item, StopToken), description);
            WriteVerbose($"{description}: {(result.Action == "NotFound" ? "already absent" : "deleted")}.");
            if (PassThru)
            {
                WriteObject(result);
            }
        }
    }
}
