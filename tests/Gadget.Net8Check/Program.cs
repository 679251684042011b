using System.Diagnostics;
using System.Runtime.InteropServices;
using Gadget;
using Gadget.Connection;
using Gadget.Kubernetes;
using Gadget.Tracing;
using k8s;
using k8s.Models;

// gadget-net8check: the client's work on the .NET 8 runtime, one task per run.
//   runtime              print the runtime's version
//   exec MARKER          start a local agent, trace execs, run /bin/true MARKER, print the event
//   install KUBECONFIG   install Gadget through the API server of the kubeconfig file, print each object
// Exits 0 on success, 1 with the error on standard error.
Console.WriteLine($"runtime {Environment.Version} ({RuntimeInformation.FrameworkDescription})");
if (Environment.Version.Major != 8)
{
    Console.Error.WriteLine($"Expected .NET 8, running on {Environment.Version}.");
    return 1;
}

using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
try
{
    switch (args.FirstOrDefault())
    {
        case "runtime":
            return 0;
        case "exec" when args.Length == 2:
            return await TraceExecAsync(args[1], timeout.Token);
        case "install" when args.Length == 2:
            return await InstallAsync(args[1], timeout.Token);
        default:
            Console.Error.WriteLine("Usage: gadget-net8check runtime | exec MARKER | install KUBECONFIG");
            return 2;
    }
}
catch (GadgetException exception)
{
    Console.Error.WriteLine($"{exception.ErrorId}: {exception.Message}");
    return 1;
}

static async Task<int> TraceExecAsync(string marker, CancellationToken token)
{
    using LocalAgentLease agent = await LocalAgent.ConnectAsync(status: null, token);
    using TraceSession trace = TraceSession.Start(agent.Connection, new Gadget.Tracing.TraceOptions { Gadget = "exec", Comm = "true" }, "local", token);
    await trace.Attached.WaitAsync(token);
    using Process process = Process.Start("/bin/true", marker);
    await process.WaitForExitAsync(token);
    while (!trace.IsCompleted && !token.IsCancellationRequested)
    {
        if (trace.TryTake(out object? item, TimeSpan.FromMilliseconds(200), token) && item is ExecEvent exec && exec.Args.Contains(marker))
        {
            Console.WriteLine($"exec {exec.Pid} {exec.ExePath} {string.Join(' ', exec.Args)}");
            return 0;
        }
    }

    Console.Error.WriteLine($"No exec event with {marker} arrived.");
    return 1;
}

static async Task<int> InstallAsync(string kubeconfig, CancellationToken token)
{
    // Content, as a runbook passes it.
    using KubeCluster cluster = KubeCluster.Open(new KubeConfigSource { KubeConfig = File.ReadAllText(kubeconfig) });
    var installer = new GadgetInstaller(cluster);
    foreach (IKubernetesObject<V1ObjectMeta> item in await installer.PlanAsync(new InstallOptions(), token))
    {
        GadgetObject applied = await installer.ApplyAsync(item, token);
        Console.WriteLine($"install {applied.Kind} {applied.Action}");
    }

    return 0;
}
