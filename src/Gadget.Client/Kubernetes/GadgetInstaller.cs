using System.Net;
using k8s;
using k8s.Models;

namespace Gadget.Kubernetes;

/// <summary>DaemonSet rollout state: how many agents are ready out of how many are wanted.</summary>
public sealed record AgentRollout(int Desired, int Ready, bool Complete);

/// <summary>Applies and removes the objects of deploy/ with server-side apply (field manager "gadget").</summary>
public sealed class GadgetInstaller(KubeCluster cluster)
{
    public const string FieldManager = "gadget";

    private IKubernetes Client => cluster.Client;

    /// <summary>
    /// The objects an install would apply. Fails when Gadget is installed in another namespace, and
    /// leaves out the Namespace object when that namespace exists and Gadget did not create it.
    /// </summary>
    public async Task<IReadOnlyList<IKubernetesObject<V1ObjectMeta>>> PlanAsync(InstallOptions options, CancellationToken token)
    {
        string? installed = await cluster.FindInstallNamespaceAsync(token).ConfigureAwait(false);
        if (installed is not null && !string.Equals(installed, options.Namespace, StringComparison.Ordinal))
        {
            throw new GadgetException(GadgetErrorId.GadgetInstalledElsewhere, GadgetErrorKind.InvalidArgument,
                $"Gadget is already installed in namespace '{installed}'; a second copy in '{options.Namespace}' would trace every node twice.")
            {
                RecommendedAction = $"Use Install-Gadget -Namespace {installed}, or remove that copy first with Uninstall-Gadget.",
            };
        }

        IReadOnlyList<IKubernetesObject<V1ObjectMeta>> objects = GadgetManifests.Build(options);
        V1Namespace? existing = await GetOrNullAsync(() => Client.CoreV1.ReadNamespaceAsync(options.Namespace, cancellationToken: token), $"get namespaces/{options.Namespace}", token).ConfigureAwait(false);
        if (existing is not null && !IsOurs(existing))
        {
            objects = [.. objects.Where(o => o is not V1Namespace)];
        }

        return objects;
    }

    /// <summary>Applies one object (server-side apply, forced: Gadget owns these fields).</summary>
    public async Task<GadgetObject> ApplyAsync(IKubernetesObject<V1ObjectMeta> item, CancellationToken token)
    {
        string name = item.Metadata.Name;
        string? ns = item.Metadata.NamespaceProperty;
        var patch = new V1Patch(item, V1Patch.PatchType.ApplyPatch);
        string before = await ResourceVersionAsync(item, token).ConfigureAwait(false);
        try
        {
            IMetadata<V1ObjectMeta> applied = item switch
            {
                V1Namespace => await Client.CoreV1.PatchNamespaceAsync(patch, name, fieldManager: FieldManager, force: true, cancellationToken: token).ConfigureAwait(false),
                V1ServiceAccount => await Client.CoreV1.PatchNamespacedServiceAccountAsync(patch, name, ns, fieldManager: FieldManager, force: true, cancellationToken: token).ConfigureAwait(false),
                V1ClusterRole => await Client.RbacAuthorizationV1.PatchClusterRoleAsync(patch, name, fieldManager: FieldManager, force: true, cancellationToken: token).ConfigureAwait(false),
                V1ClusterRoleBinding => await Client.RbacAuthorizationV1.PatchClusterRoleBindingAsync(patch, name, fieldManager: FieldManager, force: true, cancellationToken: token).ConfigureAwait(false),
                V1Role => await Client.RbacAuthorizationV1.PatchNamespacedRoleAsync(patch, name, ns, fieldManager: FieldManager, force: true, cancellationToken: token).ConfigureAwait(false),
                V1DaemonSet => await Client.AppsV1.PatchNamespacedDaemonSetAsync(patch, name, ns, fieldManager: FieldManager, force: true, cancellationToken: token).ConfigureAwait(false),
                _ => throw new InvalidOperationException($"deploy/ holds a {item.Kind}, which Install-Gadget does not know how to apply."),
            };
            string action = before.Length == 0 ? "Created" : before == applied.Metadata.ResourceVersion ? "Unchanged" : "Configured";
            return new GadgetObject(item.Kind, ns, name, action);
        }
        catch (Exception exception) when (!token.IsCancellationRequested && exception is not GadgetException)
        {
            throw KubeErrors.ToGadgetException(exception, $"patch {Plural(item)}{(ns is null ? string.Empty : $" in namespace {ns}")}", cluster.Server);
        }
    }

    /// <summary>The objects an uninstall would delete, in delete order (DaemonSet first, namespace last when Gadget created it).</summary>
    public async Task<IReadOnlyList<IKubernetesObject<V1ObjectMeta>>> PlanRemovalAsync(string? installNamespace, CancellationToken token)
    {
        string ns = installNamespace ?? await cluster.FindInstallNamespaceAsync(token).ConfigureAwait(false) ?? KubeCluster.DefaultInstallNamespace;
        var objects = GadgetManifests.Build(new InstallOptions { Namespace = ns }).Reverse().ToList();
        V1Namespace? existing = await GetOrNullAsync(() => Client.CoreV1.ReadNamespaceAsync(ns, cancellationToken: token), $"get namespaces/{ns}", token).ConfigureAwait(false);
        if (existing is null || !IsOurs(existing))
        {
            objects.RemoveAll(o => o is V1Namespace);
        }

        return objects;
    }

    /// <summary>Deletes one object; one that is already gone is reported as NotFound, not as an error.</summary>
    public async Task<GadgetObject> DeleteAsync(IKubernetesObject<V1ObjectMeta> item, CancellationToken token)
    {
        string name = item.Metadata.Name;
        string? ns = item.Metadata.NamespaceProperty;
        try
        {
            Task deleting = item switch
            {
                V1Namespace => Client.CoreV1.DeleteNamespaceAsync(name, cancellationToken: token),
                V1ServiceAccount => Client.CoreV1.DeleteNamespacedServiceAccountAsync(name, ns, cancellationToken: token),
                V1ClusterRole => Client.RbacAuthorizationV1.DeleteClusterRoleAsync(name, cancellationToken: token),
                V1ClusterRoleBinding => Client.RbacAuthorizationV1.DeleteClusterRoleBindingAsync(name, cancellationToken: token),
                V1Role => Client.RbacAuthorizationV1.DeleteNamespacedRoleAsync(name, ns, cancellationToken: token),
                V1DaemonSet => Client.AppsV1.DeleteNamespacedDaemonSetAsync(name, ns, propagationPolicy: "Foreground", cancellationToken: token),
                _ => throw new InvalidOperationException($"Uninstall-Gadget does not know how to delete a {item.Kind}."),
            };
            await deleting.ConfigureAwait(false);
            return new GadgetObject(item.Kind, ns, name, "Deleted");
        }
        catch (Exception exception) when (KubeErrors.StatusOf(exception) is HttpStatusCode.NotFound)
        {
            return new GadgetObject(item.Kind, ns, name, "NotFound");
        }
        catch (Exception exception) when (!token.IsCancellationRequested && exception is not InvalidOperationException)
        {
            throw KubeErrors.ToGadgetException(exception, $"delete {Plural(item)}{(ns is null ? string.Empty : $" in namespace {ns}")}", cluster.Server);
        }
    }

    /// <summary>How far the agents' DaemonSet has rolled out.</summary>
    public async Task<AgentRollout> GetRolloutAsync(string ns, CancellationToken token)
    {
        V1DaemonSet daemonSet;
        try
        {
            daemonSet = await Client.AppsV1.ReadNamespacedDaemonSetAsync(GadgetManifests.ClusterObjectName, ns, cancellationToken: token).ConfigureAwait(false);
        }
        catch (Exception exception) when (!token.IsCancellationRequested)
        {
            throw KubeErrors.ToGadgetException(exception, $"get daemonsets in namespace {ns}", cluster.Server);
        }

        V1DaemonSetStatus? status = daemonSet.Status;
        int desired = status?.DesiredNumberScheduled ?? 0;
        int ready = status?.NumberReady ?? 0;
        bool observed = (status?.ObservedGeneration ?? 0) >= (daemonSet.Metadata.Generation ?? 0);
        bool updated = (status?.UpdatedNumberScheduled ?? 0) >= desired;
        return new AgentRollout(desired, ready, observed && updated && ready >= desired && desired > 0);
    }

    private async Task<string> ResourceVersionAsync(IKubernetesObject<V1ObjectMeta> item, CancellationToken token)
    {
        string name = item.Metadata.Name;
        string? ns = item.Metadata.NamespaceProperty;
        IMetadata<V1ObjectMeta>? current = item switch
        {
            V1Namespace => await GetOrNullAsync(() => Client.CoreV1.ReadNamespaceAsync(name, cancellationToken: token), $"get namespaces/{name}", token).ConfigureAwait(false),
            V1ServiceAccount => await GetOrNullAsync(() => Client.CoreV1.ReadNamespacedServiceAccountAsync(name, ns, cancellationToken: token), $"get serviceaccounts in namespace {ns}", token).ConfigureAwait(false),
            V1ClusterRole => await GetOrNullAsync(() => Client.RbacAuthorizationV1.ReadClusterRoleAsync(name, cancellationToken: token), "get clusterroles", token).ConfigureAwait(false),
            V1ClusterRoleBinding => await GetOrNullAsync(() => Client.RbacAuthorizationV1.ReadClusterRoleBindingAsync(name, cancellationToken: token), "get clusterrolebindings", token).ConfigureAwait(false),
            V1Role => await GetOrNullAsync(() => Client.RbacAuthorizationV1.ReadNamespacedRoleAsync(name, ns, cancellationToken: token), $"get roles in namespace {ns}", token).ConfigureAwait(false),
            V1DaemonSet => await GetOrNullAsync(() => Client.AppsV1.ReadNamespacedDaemonSetAsync(name, ns, cancellationToken: token), $"get daemonsets in namespace {ns}", token).ConfigureAwait(false),
            _ => null,
        };
        return current?.Metadata.ResourceVersion ?? string.Empty;
    }

    private async Task<T?> GetOrNullAsync<T>(Func<Task<T>> get, string permission, CancellationToken token)
        where T : class
    {
        try
        {
            return await get().ConfigureAwait(false);
        }
        catch (Exception exception) when (KubeErrors.StatusOf(exception) is HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception exception) when (!token.IsCancellationRequested)
        {
            throw KubeErrors.ToGadgetException(exception, permission, cluster.Server);
        }
    }

    private static bool IsOurs(V1Namespace ns)
        => ns.Metadata.Labels?.TryGetValue("app.kubernetes.io/managed-by", out string? manager) == true && manager == FieldManager;

    private static string Plural(IKubernetesObject<V1ObjectMeta> item) => item.Kind.ToLowerInvariant() switch
    {
        "namespace" => "namespaces",
        string kind => kind + "s",
    };
}
