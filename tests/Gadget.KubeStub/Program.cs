using System.Globalization;
using Gadget.KubeStub;

// gadget-kubestub: the stub as a process, for the Pester suites.
//   --kubeconfig PATH         write a kubeconfig for the stub there (context namespace: --context-namespace, default "default")
//   --agent NODE=PORT         an agent pod on NODE, forwarded to 127.0.0.1:PORT (repeatable)
//   --node NAME               a node without an agent pod (repeatable)
//   --agent-namespace NS      the namespace of the agent pods (default gadget)
//   --pending-agent NODE=WHY  an agent pod on NODE that is not ready, waiting for WHY (ImagePullBackOff)
//   --deny "VERB RESOURCE"    refuse these requests with 403 (repeatable), e.g. "create pods/portforward"
//   --parent-pid PID          exit when process PID ends
// Prints its URL, then runs until it is terminated or its parent ends.
string? kubeconfig = null;
string contextNamespace = "default";
string agentNamespace = "gadget";
var agents = new List<(string Node, int Port)>();
var nodes = new List<string>();
var denied = new List<string>();
var pending = new List<(string Node, string Reason)>();
int? parentPid = null;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--kubeconfig": kubeconfig = Value(); break;
        case "--context-namespace": contextNamespace = Value(); break;
        case "--agent-namespace": agentNamespace = Value(); break;
        case "--agent":
            string[] parts = Value().Split('=', 2);
            agents.Add((parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture)));
            break;
        case "--node": nodes.Add(Value()); break;
        case "--pending-agent":
            string[] waiting = Value().Split('=', 2);
            pending.Add((waiting[0], waiting[1]));
            break;
        case "--parent-pid": parentPid = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--deny": denied.Add(Value()); break;
        default: Console.Error.WriteLine($"Unknown option '{args[i]}'."); return 2;
    }
}

await using KubeApiStub stub = await KubeApiStub.StartAsync();
foreach (string node in nodes)
{
    stub.Nodes.TryAdd(node, new Dictionary<string, string> { ["kubernetes.io/os"] = "linux", ["kubernetes.io/hostname"] = node });
}

foreach ((string node, int port) in agents)
{
    stub.AddAgentPod(agentNamespace, node, port);
}

foreach ((string node, string reason) in pending)
{
    stub.AddAgentPod(agentNamespace, node, 0, ready: false, waitingReason: reason);
}

foreach (string rule in denied)
{
    stub.Denied[rule] = true;
}

if (kubeconfig is not null)
{
    await File.WriteAllTextAsync(kubeconfig + ".tmp", stub.KubeConfig(contextNamespace));
    File.Move(kubeconfig + ".tmp", kubeconfig, overwrite: true);
}

Console.WriteLine(stub.Url);
using var stop = new CancellationTokenSource();
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
while (!stop.IsCancellationRequested)
{
    if (parentPid is int parent && !Directory.Exists($"/proc/{parent}"))
    {
        break;
    }

    try
    {
        await Task.Delay(500, stop.Token);
    }
    catch (OperationCanceledException)
    {
        break;
    }
}

return 0;
