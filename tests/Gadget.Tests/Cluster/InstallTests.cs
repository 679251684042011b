using System.Text.Json.Nodes;
using Gadget.KubeStub;
using Gadget.Kubernetes;
using k8s;
using k8s.Models;
using Xunit;

namespace Gadget.Tests.Cluster;

/// <summary>Install and uninstall through the stub API server: the objects are checked field by field.</summary>
public sealed class InstallTests : IAsyncLifetime, IDisposable
{
    private KubeApiStub _stub = null!;
    private KubeCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _stub = await KubeApiStub.StartAsync();
        _cluster = KubeCluster.Open(new KubeConfigSource { KubeConfig = _stub.KubeConfig() });
    }

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    public void Dispose() => _cluster.Dispose();

    private async Task<IReadOnlyList<GadgetObject>> InstallAsync(InstallOptions options)
    {
        var installer = new GadgetInstaller(_cluster);
        var results = new List<GadgetObject>();
        foreach (IKubernetesObject<V1ObjectMeta> item in await installer.PlanAsync(options, CancellationToken.None))
        {
            results.Add(await installer.ApplyAsync(item, CancellationToken.None));
        }

        return results;
    }

    [Fact]
    public void TheEmbeddedManifestsAreTheFilesOfDeploy()
    {
        string deploy = Path.Combine(RepoRoot(), "deploy");
        Assert.Equal(
            Directory.GetFiles(deploy, "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal),
            GadgetManifests.Sources.Select(s => s.Name));
        foreach ((string name, string yaml) in GadgetManifests.Sources)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(deploy, name)), yaml);
        }
    }

    [Fact]
    public async Task InstallAppliesEveryObjectWithServerSideApply()
    {
        IReadOnlyList<GadgetObject> results = await InstallAsync(new InstallOptions());
        Assert.Equal(
            ["Namespace gadget", "ServiceAccount gadget/gadget", "ClusterRole gadget", "ClusterRoleBinding gadget", "Role gadget/gadget-user", "DaemonSet gadget/gadget"],
            results.Select(r => r.Namespace is null ? $"{r.Kind} {r.Name}" : $"{r.Kind} {r.Namespace}/{r.Name}"));
        Assert.All(results, r => Assert.Equal("Created", r.Action));
        Assert.All(_stub.Requests.Where(r => r.StartsWith("PATCH", StringComparison.Ordinal)),
            r => Assert.Contains("fieldManager=gadget", r, StringComparison.Ordinal));

        JsonObject ds = _stub.Get("daemonsets", "gadget", "gadget")!;
        JsonNode pod = ds["spec"]!["template"]!["spec"]!;
        JsonNode container = pod["containers"]![0]!;
        Assert.True((bool)pod["hostPID"]!);
        Assert.False((bool)pod["hostNetwork"]!);
        Assert.Equal("linux", (string?)pod["nodeSelector"]!["kubernetes.io/os"]);
        Assert.Equal("Exists", (string?)pod["tolerations"]![0]!["operator"]);
        Assert.Null(pod["tolerations"]![0]!["key"]);
        Assert.Equal("gadget", (string?)pod["serviceAccountName"]);
        Assert.Equal(["--no-socket", "--listen-port", "8080"], container["args"]!.AsArray().Select(a => (string)a!));
        Assert.Equal("spec.nodeName", (string?)container["env"]![0]!["valueFrom"]!["fieldRef"]!["fieldPath"]);
        Assert.Equal("NODE_NAME", (string?)container["env"]![0]!["name"]);
        JsonNode security = container["securityContext"]!;
        Assert.False((bool)security["privileged"]!);
        Assert.False((bool)security["allowPrivilegeEscalation"]!);
        Assert.True((bool)security["readOnlyRootFilesystem"]!);
        Assert.Equal(["ALL"], security["capabilities"]!["drop"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(["BPF", "PERFMON", "NET_ADMIN", "SYS_PTRACE", "SYS_ADMIN"], security["capabilities"]!["add"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(["/gadget/gadget-agent", "--probe", "8080"], container["readinessProbe"]!["exec"]!["command"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(["/gadget/gadget-agent", "--probe", "8080"], container["livenessProbe"]!["exec"]!["command"]!.AsArray().Select(a => (string)a!));
        Assert.NotNull(container["resources"]!["requests"]!["cpu"]);
        Assert.NotNull(container["resources"]!["limits"]!["memory"]);
        var mounts = container["volumeMounts"]!.AsArray().ToDictionary(m => (string)m!["name"]!, m => (string)m!["mountPath"]!);
        var hostPaths = pod["volumes"]!.AsArray().Where(v => v!["hostPath"] is not null).ToDictionary(v => (string)v!["name"]!, v => (string)v!["hostPath"]!["path"]!);
        foreach (string path in new[] { "/sys/kernel/btf", "/sys/fs/cgroup", "/sys/fs/bpf", "/sys/kernel/tracing", "/run/containerd/containerd.sock" })
        {
            string volume = hostPaths.Single(h => h.Value == path).Key;
            Assert.Equal(path, mounts[volume]);
        }

        JsonObject binding = _stub.Get("clusterrolebindings", null, "gadget")!;
        Assert.Equal("gadget", (string?)binding["subjects"]![0]!["namespace"]);
        Assert.Equal("gadget", (string?)binding["roleRef"]!["name"]);
        // The agent's only API access: its node's pods, listed then watched.
        Assert.Equal(["pods:get,list,watch"], RuleSummary(_stub.Get("clusterroles", null, "gadget")!));
        Assert.Equal(["pods:get,list", "pods/portforward:create"], RuleSummary(_stub.Get("roles", "gadget", "gadget-user")!));
        // The token the pod watch authenticates with, mounted by both the account and the pod spec.
        Assert.True((bool)_stub.Get("serviceaccounts", "gadget", "gadget")!["automountServiceAccountToken"]!);
        Assert.True((bool)pod["automountServiceAccountToken"]!);
        Assert.Equal("gadget", (string?)_stub.Get("namespaces", null, "gadget")!["metadata"]!["labels"]!["app.kubernetes.io/managed-by"]);
    }

    /// <summary>A role's rules as "resources:verbs", one per rule.</summary>
    private static IEnumerable<string> RuleSummary(JsonObject role)
        => role["rules"]!.AsArray().Select(r => $"{string.Join(',', r!["resources"]!.AsArray().Select(x => (string)x!))}:{string.Join(',', r["verbs"]!.AsArray().Select(x => (string)x!))}");

    [Fact]
    public async Task ASecondInstallChangesNothing()
    {
        await InstallAsync(new InstallOptions());
        var versions = _stub.List("daemonsets").Concat(_stub.List("namespaces")).Concat(_stub.List("roles"))
            .Select(o => (string?)o["metadata"]!["resourceVersion"]).ToList();
        IReadOnlyList<GadgetObject> again = await InstallAsync(new InstallOptions());
        Assert.All(again, r => Assert.Equal("Unchanged", r.Action));
        Assert.Equal(versions, _stub.List("daemonsets").Concat(_stub.List("namespaces")).Concat(_stub.List("roles"))
            .Select(o => (string?)o["metadata"]!["resourceVersion"]));
    }

    [Fact]
    public async Task NamespaceImageAndNodeSelectorRewriteTheObjects()
    {
        await InstallAsync(new InstallOptions { Namespace = "tools", Image = "registry.example/gadget-agent:1.2", NodeSelector = new Dictionary<string, string> { ["pool"] = "sys" } });
        JsonObject ds = _stub.Get("daemonsets", "tools", "gadget")!;
        Assert.Equal("registry.example/gadget-agent:1.2", (string?)ds["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]);
        Assert.Equal("sys", (string?)ds["spec"]!["template"]!["spec"]!["nodeSelector"]!["pool"]);
        Assert.Equal("linux", (string?)ds["spec"]!["template"]!["spec"]!["nodeSelector"]!["kubernetes.io/os"]);
        Assert.Equal("tools", (string?)_stub.Get("clusterrolebindings", null, "gadget")!["subjects"]![0]!["namespace"]);
        Assert.NotNull(_stub.Get("serviceaccounts", "tools", "gadget"));
        Assert.NotNull(_stub.Get("roles", "tools", "gadget-user"));
        Assert.Null(_stub.Get("daemonsets", "gadget", "gadget"));
        Assert.Equal("tools", await _cluster.FindInstallNamespaceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ASecondCopyInAnotherNamespaceIsRefused()
    {
        await InstallAsync(new InstallOptions());
        var exception = await Assert.ThrowsAsync<GadgetException>(() => InstallAsync(new InstallOptions { Namespace = "tools" }));
        Assert.Equal(GadgetErrorId.GadgetInstalledElsewhere, exception.ErrorId);
        Assert.Contains("'gadget'", exception.Message, StringComparison.Ordinal);
        Assert.Null(_stub.Get("daemonsets", "tools", "gadget"));
    }

    [Fact]
    public async Task UninstallRemovesEverythingInstallCreated()
    {
        await InstallAsync(new InstallOptions());
        var installer = new GadgetInstaller(_cluster);
        var deleted = new List<GadgetObject>();
        foreach (IKubernetesObject<V1ObjectMeta> item in await installer.PlanRemovalAsync(null, CancellationToken.None))
        {
            deleted.Add(await installer.DeleteAsync(item, CancellationToken.None));
        }

        Assert.Equal(6, deleted.Count);
        Assert.All(deleted, d => Assert.Equal("Deleted", d.Action));
        foreach (string resource in new[] { "namespaces", "serviceaccounts", "clusterroles", "clusterrolebindings", "roles", "daemonsets" })
        {
            Assert.Empty(_stub.List(resource));
        }

        Assert.Null(await _cluster.FindInstallNamespaceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ANamespaceGadgetDidNotCreateIsNeitherTakenOverNorDeleted()
    {
        var foreign = new V1Namespace { ApiVersion = "v1", Kind = "Namespace", Metadata = new V1ObjectMeta { Name = "tools" } };
        await _cluster.Client.CoreV1.PatchNamespaceAsync(new V1Patch(foreign, V1Patch.PatchType.ApplyPatch), "tools", fieldManager: "someone-else");
        IReadOnlyList<GadgetObject> results = await InstallAsync(new InstallOptions { Namespace = "tools" });
        Assert.DoesNotContain(results, r => r.Kind == "Namespace");
        var installer = new GadgetInstaller(_cluster);
        foreach (IKubernetesObject<V1ObjectMeta> item in await installer.PlanRemovalAsync(null, CancellationToken.None))
        {
            await installer.DeleteAsync(item, CancellationToken.None);
        }

        Assert.NotNull(_stub.Get("namespaces", null, "tools"));
        Assert.Empty(_stub.List("daemonsets"));
    }

    [Fact]
    public async Task RolloutCountsReadyAgentsOutOfNodes()
    {
        await InstallAsync(new InstallOptions());
        _stub.AddAgentPod("gadget", "node-a", 1);
        _stub.AddAgentPod("gadget", "node-b", 1, ready: false, waitingReason: "CrashLoopBackOff");
        AgentRollout rollout = await new GadgetInstaller(_cluster).GetRolloutAsync("gadget", CancellationToken.None);
        Assert.Equal(new AgentRollout(2, 1, false), rollout);
        IReadOnlyList<AgentPod> pods = await _cluster.FindAgentsAsync("gadget", null, CancellationToken.None);
        Assert.Equal("CrashLoopBackOff: stub: CrashLoopBackOff", pods.Single(p => p.Node == "node-b").NotReadyReason);
        Assert.Equal(["node-b"], (await _cluster.FindAgentsAsync("gadget", ["node-b"], CancellationToken.None)).Select(p => p.Node));
    }

    [Fact]
    public async Task ForbiddenBecomesPermissionDeniedNamingThePermission()
    {
        _stub.Denied["list pods"] = true;
        var exception = await Assert.ThrowsAsync<GadgetException>(() => _cluster.FindAgentsAsync("gadget", null, CancellationToken.None));
        Assert.Equal(GadgetErrorKind.PermissionDenied, exception.Kind);
        Assert.Equal(GadgetErrorId.KubeForbidden, exception.ErrorId);
        Assert.Contains("list pods in namespace gadget", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheKubeConfigCanBeAPathOrItsContentAndTheContextIsHonoured()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gadget-kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(path, _stub.KubeConfig("from-file"));
        try
        {
            using KubeCluster fromFile = KubeCluster.Open(new KubeConfigSource { KubeConfig = path });
            Assert.Equal("from-file", fromFile.ContextNamespace);
            using KubeCluster other = KubeCluster.Open(new KubeConfigSource { KubeConfig = path, Context = "other" });
            Assert.Equal("other-ns", other.ContextNamespace);
        }
        finally
        {
            File.Delete(path);
        }

        var missing = Assert.Throws<GadgetException>(() => KubeCluster.Open(new KubeConfigSource { KubeConfig = "/nonexistent/kubeconfig" }));
        Assert.Equal(GadgetErrorId.KubeConfigNotFound, missing.ErrorId);
        var badContext = Assert.Throws<GadgetException>(() => KubeCluster.Open(new KubeConfigSource { KubeConfig = _stub.KubeConfig(), Context = "nope" }));
        Assert.Equal(GadgetErrorId.KubeConfigInvalid, badContext.ErrorId);
    }

    private static string RepoRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Gadget.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("Gadget.sln not found above the test directory.");
    }
}
