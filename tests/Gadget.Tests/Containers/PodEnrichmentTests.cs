using Gadget.Agent.Containers;
using Xunit;

namespace Gadget.Tests.Containers;

/// <summary>How a container finds its pod by uid, and how the pod from the API completes what the runtime said.</summary>
public sealed class PodEnrichmentTests
{
    private const string Uid = "0b5f0c2e-7d4a-4f63-9a51-3c1e2d4b6a78";

    [Theory]
    [InlineData("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0b5f0c2e_7d4a_4f63_9a51_3c1e2d4b6a78.slice/cri-containerd-abc.scope")]
    [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b5f0c2e_7d4a_4f63_9a51_3c1e2d4b6a78.slice/crio-abc.scope")]
    [InlineData("/kubepods.slice/kubepods-pod0b5f0c2e_7d4a_4f63_9a51_3c1e2d4b6a78.slice/cri-containerd-abc.scope")]
    [InlineData("/kubepods/besteffort/pod0b5f0c2e-7d4a-4f63-9a51-3c1e2d4b6a78/abc")]
    [InlineData("/kubepods/pod0b5f0c2e-7d4a-4f63-9a51-3c1e2d4b6a78/abc")]
    [InlineData("/../../kubepods-besteffort-pod0b5f0c2e_7d4a_4f63_9a51_3c1e2d4b6a78.slice/cri-containerd-abc.scope")]
    [InlineData("/docker/4f2a/kubepods/burstable/pod0b5f0c2e-7d4a-4f63-9a51-3c1e2d4b6a78/abc")]
    public void TheKubeletsCgroupPathsNameThePod(string cgroupPath) => Assert.Equal(Uid, KubeletCgroup.PodUidOf(cgroupPath));

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("/system.slice/containerd.service")]
    [InlineData("/user.slice/user-0.slice/session-1.scope")]
    [InlineData("/kubepods/besteffort/podnot-a-uid/abc")]
    [InlineData("/pod0b5f0c2e-7d4a-4f63-9a51-3c1e2d4b6a78/abc")]
    public void OtherCgroupPathsNameNoPod(string cgroupPath) => Assert.Equal(string.Empty, KubeletCgroup.PodUidOf(cgroupPath));

    [Fact]
    public void RuntimeNamesWinAndThePodsLabelsReplaceTheRuntimesCopy()
    {
        ContainerRecord labelled = Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string>
        {
            [ContainerRecord.PodNamespaceLabel] = "runtime-ns",
            [ContainerRecord.PodNameLabel] = "runtime-pod",
            [ContainerRecord.PodUidLabel] = Uid,
            [ContainerRecord.ContainerNameLabel] = "runtime-c",
            ["app"] = "from-runtime",
            ["team"] = "a",
        });
        Assert.Equal(new Dictionary<string, string> { ["app"] = "from-runtime", ["team"] = "a" }, labelled.CompletedWith(null).PodLabels);

        // The pod was relabelled since it started: app changed, team was removed, tier added.
        ContainerRecord completed = labelled.CompletedWith(Pod(new Dictionary<string, string> { ["app"] = "from-api", ["tier"] = "front" }, ("c1", "api-c")));

        Assert.Equal("runtime-ns", completed.PodNamespace);
        Assert.Equal("runtime-pod", completed.PodName);
        Assert.Equal("runtime-c", completed.ContainerName);
        Assert.Equal(new Dictionary<string, string> { ["app"] = "from-api", ["tier"] = "front" }, completed.PodLabels);
    }

    [Fact]
    public void AScanThatChangesALabelsValueIsAChange()
    {
        (ContainerCollection collection, Func<int> changes) = ScannedOnce(Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string> { ["app"] = "v1" }));

        collection.Replace("runc", [Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string> { ["app"] = "v1" })], 1);
        Assert.Equal(0, changes());

        collection.Replace("runc", [Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string> { ["app"] = "v2" })], 2);
        Assert.Equal(1, changes());
        Assert.True(collection.TryGetByMountNs(1, out ContainerRecord container));
        Assert.Equal("v2", container.PodLabels["app"]);

        collection.Replace("runc", [Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string> { ["app"] = "v2" }) with { Image = "busybox:2" }], 3);
        Assert.Equal(2, changes());
    }

    [Fact]
    public void AnUnlabelledContainerTakesItsPodByCgroupAndItsNameFromThePodsStatus()
    {
        ContainerRecord bare = Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string>());
        Assert.Equal(Uid, bare.PodUid);
        Assert.Equal("c1", bare.CompletedWith(null).ContainerName);

        ContainerRecord completed = bare.CompletedWith(Pod(new Dictionary<string, string> { ["app"] = "web" }, ("c1", "nginx")));
        Assert.Equal("api-ns", completed.PodNamespace);
        Assert.Equal("api-pod", completed.PodName);
        Assert.Equal("nginx", completed.ContainerName);
        Assert.Equal("web", completed.PodLabels["app"]);

        // A container the pod's statuses do not list (its pause container) keeps the runtime's name.
        Assert.Equal("pause", Container("pause", 2).WithKubernetesLabels(new Dictionary<string, string>()).CompletedWith(Pod([], ("c1", "nginx"))).ContainerName);
    }

    [Fact]
    public void TracesAreToldOnlyWhenAPodOfTheirContainersChanges()
    {
        (ContainerCollection collection, Func<int> changes) = ScannedOnce(Container("c1", 1).WithKubernetesLabels(new Dictionary<string, string>()));

        collection.SetPod(Pod([]) with { Uid = Guid.NewGuid().ToString() });
        Assert.Equal(0, changes());

        collection.SetPod(Pod(new Dictionary<string, string> { ["app"] = "v1" }));
        Assert.Equal(1, changes());
        Assert.True(collection.TryGetByMountNs(1, out ContainerRecord container));
        Assert.Equal("v1", container.PodLabels["app"]);

        // A status-only update (the same fields the agent keeps) changes nothing.
        collection.SetPod(Pod(new Dictionary<string, string> { ["app"] = "v1" }));
        Assert.Equal(1, changes());

        collection.ReplacePods([Pod(new Dictionary<string, string> { ["app"] = "v2" })]);
        Assert.Equal(2, changes());
        collection.RemovePod(Uid);
        Assert.Equal(3, changes());
        Assert.True(collection.TryGetByMountNs(1, out container));
        Assert.Equal(string.Empty, container.PodName);
    }

    /// <summary>A collection after one scan of a source that found <paramref name="container"/>, and a count of the changes it reports from then on.</summary>
    private static (ContainerCollection Collection, Func<int> Changes) ScannedOnce(ContainerRecord container)
    {
        var collection = new ContainerCollection();
        collection.ExpectSources(1);
        collection.Replace("runc", [container], 0);
        int changes = 0;
        collection.Changed += () => changes++;
        return (collection, () => changes);
    }

    private static ContainerRecord Container(string id, ulong mountNs) => TestContainers.Runc(id, mountNs, $"/kubepods/besteffort/pod{Uid}/{id}");

    private static KubePod Pod(Dictionary<string, string> labels, params (string Id, string Name)[] containers) => new()
    {
        Uid = Uid,
        Namespace = "api-ns",
        Name = "api-pod",
        Labels = labels,
        ContainerNames = containers.ToDictionary(c => c.Id, c => c.Name),
    };
}
