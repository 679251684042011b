using System.Net.Sockets;
using Gadget.Agent.Containers.Containerd;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gadget.Agent.Containers;

/// <summary>
/// Follows containerd: a full scan of every namespace at start, after every task or container
/// event, on request, and every few seconds as a safety net. A missing socket is not an error:
/// the source waits for containerd to appear.
/// </summary>
internal sealed class ContainerdSource(ContainerCollection collection, string socketPath, ILogger logger)
{
    public const string Name = "containerd";
    private static readonly TimeSpan Resync = TimeSpan.FromSeconds(5);

    public async Task RunAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            if (!File.Exists(socketPath))
            {
                collection.Replace(Name, [], System.Diagnostics.Stopwatch.GetTimestamp());
                await WaitAsync(Resync, token).ConfigureAwait(false);
                continue;
            }

            try
            {
                using GrpcChannel channel = Connect();
                await FollowAsync(channel.CreateCallInvoker(), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is RpcException or IOException or HttpRequestException or SocketException)
            {
                ContainerLog.SourceFailed(logger, Name, exception.Message);
                await WaitAsync(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
            }
        }
    }

    private async Task FollowAsync(CallInvoker invoker, CancellationToken token)
    {
        using var events = CancellationTokenSource.CreateLinkedTokenSource(token);
        using AsyncServerStreamingCall<Envelope> subscription = invoker.AsyncServerStreamingCall(
            ContainerdApi.Subscribe, null, new CallOptions(cancellationToken: events.Token),
            new SubscribeRequest { Filters = { "topic~=\"/tasks/\"", "topic~=\"/containers/\"" } });

        var scanNow = new SemaphoreSlim(0);
        Task eventPump = Task.Run(async () =>
        {
            while (await subscription.ResponseStream.MoveNext(events.Token).ConfigureAwait(false))
            {
                scanNow.Release();
            }
        }, events.Token);

        try
        {
            while (!token.IsCancellationRequested)
            {
                await ScanAsync(invoker, token).ConfigureAwait(false);
                Task refresh = collection.WaitForRefreshRequestAsync(Name, token);
                Task completed = await Task.WhenAny(scanNow.WaitAsync(token), refresh, eventPump, Task.Delay(Resync, token)).ConfigureAwait(false);
                if (completed == eventPump)
                {
                    await eventPump.ConfigureAwait(false); // rethrows the stream's failure to reconnect
                    return;
                }
            }
        }
        finally
        {
            await events.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task ScanAsync(CallInvoker invoker, CancellationToken token)
    {
        // Requests first, then the time: a request taken here was made before the scan started,
        // so the scan answers it; one made later stays for the next scan.
        collection.TakeRefreshRequests(Name);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var found = new List<ContainerRecord>();
        ListNamespacesResponse namespaces = await invoker.AsyncUnaryCall(ContainerdApi.ListNamespaces, null, new CallOptions(cancellationToken: token), new ListNamespacesRequest());
        foreach (Namespace ns in namespaces.Namespaces)
        {

            var options = new CallOptions(ContainerdApi.InNamespace(ns.Name), cancellationToken: token);
            ListTasksResponse tasks = await invoker.AsyncUnaryCall(ContainerdApi.ListTasks, null, options, new ListTasksRequest());

            if (tasks.Tasks.Count == 0)
            {
                continue;
            }

            ListContainersResponse containers = await invoker.AsyncUnaryCall(ContainerdApi.ListContainers, null, options, new ListContainersRequest());
            var byId = containers.Containers.ToDictionary(c => c.Id, StringComparer.Ordinal);
            foreach (Process task in tasks.Tasks)
            {
                // A task's id is its container's id (container_id is set only for exec'd processes).
                string containerId = task.ContainerId.Length > 0 ? task.ContainerId : task.Id;
                if (task.Pid == 0 || task.Status is Containerd.TaskStatus.Stopped || !byId.TryGetValue(containerId, out Container? container))
                {
                    continue;
                }

                int pid = (int)task.Pid;
                ulong mountNs = ProcessNamespaces.Inode(pid, "mnt");
                if (mountNs == 0)
                {
                    continue; // exited between the list and now
                }

                // Pod labels: the container's own, completed by its sandbox's (CRI puts the pod's labels there).
                var labels = new Dictionary<string, string>(container.Labels, StringComparer.Ordinal);
                if (container.Sandbox.Length > 0 && byId.TryGetValue(container.Sandbox, out Container? sandbox))
                {
                    foreach ((string key, string value) in sandbox.Labels)
                    {
                        labels.TryAdd(key, value);
                    }
                }

                found.Add(new ContainerRecord
                {
                    Id = container.Id,
                    Name = container.Id,
                    Runtime = Name,
                    RuntimeNamespace = ns.Name,
                    Image = container.Image,
                    Pid = pid,
                    MountNsId = mountNs,
                    NetNsId = ProcessNamespaces.Inode(pid, "net"),
                    CgroupPath = ProcessNamespaces.CgroupPath(pid),
                }.WithKubernetesLabels(labels));
            }
        }

        collection.Replace(Name, found, started);
    }

    private GrpcChannel Connect()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://containerd", new GrpcChannelOptions { HttpHandler = handler });
    }

    /// <summary>Waits without containerd; a refresh request ends the wait (and is answered by the next attempt).</summary>
    private async Task WaitAsync(TimeSpan delay, CancellationToken token)
    {
        try
        {
            Task refresh = collection.WaitForRefreshRequestAsync(Name, token);
            await Task.WhenAny(Task.Delay(delay, token), refresh).ConfigureAwait(false);
            collection.TakeRefreshRequests(Name);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }
}
