using System.Diagnostics;
using System.Text.Json.Nodes;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using Xunit;
using TraceOptions = Gadget.Tracing.TraceOptions;

namespace Gadget.Tests.Containers;

/// <summary>A container run by runc alone, without containerd: found from runc's state and its bundle's annotations.</summary>
[Collection(KernelTests.Name)]
public sealed class RuncContainerTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _bundle = Directory.CreateTempSubdirectory("gadget-runc-").FullName;
    private readonly string _id = $"gadget-runc-{Guid.NewGuid():N}"[..24];
    private bool _started;

    [KernelFact]
    public async Task PlainRuncContainerIsListedAndLabelledFromItsAnnotations()
    {
        string marker = $"runc-{Guid.NewGuid():N}";
        using AgentProcess agent = await AgentProcess.StartAsync();
        var options = new TraceOptions
        {
            Gadget = "exec",
            Duration = TimeSpan.FromSeconds(5),
            Containers = new ContainerSelection { Containers = true, Namespaces = ["runc-ns"] },
        };
        using var timeout = new CancellationTokenSource(Timeout);
        using var session = TraceSession.Start(agent.Connection, options, "node-a", timeout.Token);
        await session.Attached.WaitAsync(timeout.Token);

        Run($"echo {marker}; sleep 30");

        var events = new List<ExecEvent>();
        while (!session.IsCompleted)
        {
            if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(200), timeout.Token) && item is ExecEvent exec)
            {
                events.Add(exec);
            }
        }

        ExecEvent first = Assert.Single(events, e => e.Args.Any(arg => arg.Contains(marker, StringComparison.Ordinal)));
        Assert.Equal("runc-ns", first.Namespace);
        Assert.Equal("runc-pod", first.Pod);
        Assert.Equal("runc-c", first.Container);
        Assert.Equal(_id, first.ContainerId);
        Assert.Equal("plain", first.PodLabels["app"]);

        IReadOnlyList<GadgetContainer> containers = await agent.Connection.ListContainersAsync(null, "node-a", timeout.Token);
        GadgetContainer container = Assert.Single(containers, c => c.Id == _id);
        Assert.Equal("runc", container.Runtime);
        Assert.Equal(first.Pid, container.Pid);
        Assert.Equal(first.MountNsId, container.MountNsId);
    }

    public void Dispose()
    {
        if (_started)
        {
            RuncCommand("kill", _id, "KILL");
            for (int attempt = 0; attempt < 50 && !RuncCommand("delete", "-f", _id); attempt++)
            {
                Thread.Sleep(100);
            }
        }

        Directory.Delete(_bundle, recursive: true);
    }

    /// <summary>Makes an OCI bundle (busybox-static root, the kubelet's keys as annotations) and runs it detached.</summary>
    private void Run(string script)
    {
        string rootfs = Path.Combine(_bundle, "rootfs");
        foreach (string directory in new[] { "bin", "proc", "sys", "dev", "tmp", "etc" })
        {
            Directory.CreateDirectory(Path.Combine(rootfs, directory));
        }

        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"));
        foreach (string applet in new[] { "sh", "sleep", "echo" })
        {
            File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
        }

        Assert.True(RuncCommand("spec", "--bundle", _bundle), "runc spec failed.");
        string configPath = Path.Combine(_bundle, "config.json");
        JsonNode config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray("/bin/sh", "-c", script);
        config["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = false };
        config["annotations"] = new JsonObject
        {
            ["io.kubernetes.pod.namespace"] = "runc-ns",
            ["io.kubernetes.pod.name"] = "runc-pod",
            ["io.kubernetes.container.name"] = "runc-c",
            ["app"] = "plain",
        };
        File.WriteAllText(configPath, config.ToJsonString());
        // A detached container keeps the stdio runc was given: hand it files, not this process's pipes,
        // or reading runc's output would wait for the container to end.
        string log = Path.Combine(_bundle, "container.log");
        _started = Command("/bin/sh", "-c", $"exec runc run -d --bundle '{_bundle}' {_id} </dev/null >'{log}' 2>&1");
        Assert.True(_started, $"runc run failed: {File.ReadAllText(log)}");
    }

    private static bool RuncCommand(params string[] arguments) => Command("runc", arguments);

    private static bool Command(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process runc = Process.Start(start)!;
        runc.StandardInput.Close();
        Task<string> output = runc.StandardOutput.ReadToEndAsync();
        Task<string> errors = runc.StandardError.ReadToEndAsync();
        if (!runc.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            runc.Kill();
            return false;
        }

        _ = output.Result + errors.Result;
        return runc.ExitCode == 0;
    }
}
