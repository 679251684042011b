using System.Diagnostics;
using Gadget.Kubernetes;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using k8s.Models;
using Xunit;
using TraceOptions = Gadget.Tracing.TraceOptions;

namespace Gadget.Tests.Cluster;

/// <summary>
/// The capabilities deploy/03-daemonset.yaml gives the agent are enough: an agent with only those
/// (read from the manifest itself) attaches every gadget and delivers events.
/// </summary>
public sealed class DaemonSetCapabilitiesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static IList<string> ManifestCapabilities()
    {
        V1DaemonSet daemonSet = GadgetManifests.Build(new InstallOptions()).OfType<V1DaemonSet>().Single();
        V1SecurityContext security = daemonSet.Spec.Template.Spec.Containers[0].SecurityContext;
        Assert.Equal(["ALL"], security.Capabilities.Drop);
        return security.Capabilities.Add;
    }

    [KernelFact]
    public async Task EveryGadgetAttachesWithOnlyTheDaemonSetsCapabilities()
    {
        using AgentProcess agent = await AgentProcess.StartWithCapabilitiesAsync(ManifestCapabilities());
        foreach (string gadget in new[] { "exec", "open", "dns" })
        {
            using TraceSession session = TraceSession.Start(agent.Connection, new TraceOptions { Gadget = gadget, Comm = "echo" }, "node", CancellationToken.None);
            Assert.True(session.Attached.Wait(Wait), $"{gadget} did not attach in time. {agent.Output}");
            Assert.False(session.TryTake(out object? item, TimeSpan.FromMilliseconds(300), CancellationToken.None) && item is GadgetException,
                $"{gadget} failed with the DaemonSet's capabilities: {(item as GadgetException)?.Message}");
        }

        string marker = $"caps-{Guid.NewGuid():N}";
        using TraceSession exec = TraceSession.Start(agent.Connection, new TraceOptions { Gadget = "exec", Comm = "echo" }, "node", CancellationToken.None);
        Assert.True(exec.Attached.Wait(Wait));
        bool seen = false;
        var clock = Stopwatch.StartNew();
        while (!seen && clock.Elapsed < Wait)
        {
            using (Process echo = HostProcess.Start("/bin/echo", marker))
            {
                echo.WaitForExit();
            }

            while (exec.TryTake(out object? item, TimeSpan.FromMilliseconds(200), CancellationToken.None))
            {
                Assert.IsNotType<GadgetException>(item);
                seen |= item is ExecEvent e && e.Args.Contains(marker);
            }
        }

        Assert.True(seen, "No exec event arrived from the agent with the DaemonSet's capabilities.");
    }

    [KernelFact]
    public async Task WithoutNetAdminTheDnsGadgetCannotAttach()
    {
        // The counter-proof of the manifest's comment on NET_ADMIN. SYS_ADMIN would grant the same
        // (the kernel accepts either for network program types), so both go.
        using AgentProcess agent = await AgentProcess.StartWithCapabilitiesAsync(ManifestCapabilities().Where(c => c is not ("NET_ADMIN" or "SYS_ADMIN")));
        using TraceSession session = TraceSession.Start(agent.Connection, new TraceOptions { Gadget = "dns" }, "node", CancellationToken.None);
        object? failure = null;
        Assert.True(Eventually.True(() => session.TryTake(out failure, TimeSpan.FromMilliseconds(100), CancellationToken.None) && failure is GadgetException || session.IsCompleted, Wait));
        GadgetException exception = Assert.IsType<GadgetException>(failure);
        Assert.Equal("BpfAttachFailed", exception.ErrorId);
        Assert.Contains("gadget_dns_egress", exception.Message, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task WithoutSysAdminTheSocketSnapshotCannotEnterANetworkNamespace()
    {
        // The counter-proof of the manifest's comment on SYS_ADMIN: a process in a network
        // namespace of its own, which the snapshot must enter.
        using Process holder = HostProcess.Start("/usr/bin/unshare", "-n", "sleep", "60");
        try
        {
            Assert.True(Eventually.True(() => File.Exists($"/proc/{holder.Id}/ns/net") && new FileInfo($"/proc/{holder.Id}/ns/net").LinkTarget != new FileInfo("/proc/self/ns/net").LinkTarget, Wait));
            using AgentProcess agent = await AgentProcess.StartWithCapabilitiesAsync(ManifestCapabilities().Where(c => c != "SYS_ADMIN"));
            using TraceSession session = TraceSession.Start(agent.Connection, new TraceOptions { Gadget = "socket" }, "node", CancellationToken.None);
            object? failure = null;
            Assert.True(Eventually.True(() => session.TryTake(out failure, TimeSpan.FromMilliseconds(100), CancellationToken.None) && failure is GadgetException || session.IsCompleted, Wait));
            GadgetException exception = Assert.IsType<GadgetException>(failure);
            Assert.Equal("BpfPermissionDenied", exception.ErrorId);
            Assert.Contains("CAP_SYS_ADMIN", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
        }
    }
}
