using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Gadget.KubeStub;

/// <summary>
/// An in-process Kubernetes API server stub on 127.0.0.1 (a random port), holding objects in
/// memory. What it implements follows the real API server: bearer-token authentication (401),
/// authorization by verb and resource (403 with a Status), server-side apply (PATCH
/// application/apply-patch+yaml with a fieldManager; a no-op apply keeps the resourceVersion),
/// get/list (label and field selectors)/delete, watch (newline-delimited events from a
/// resourceVersion, ADDED/MODIFIED/DELETED as objects enter, change in and leave the selection,
/// BOOKMARKs when asked, an ERROR event with 410 Expired for a version older than its history),
/// DaemonSet status from its nodes and pods, and pod port-forward over WebSocket
/// (v4.channel.k8s.io: channel 0 data, channel 1 errors, each channel's first frame carrying the
/// port, little-endian) bridged to a local TCP port.
/// </summary>
public sealed class KubeApiStub : IAsyncDisposable
{
    public const string Token = "stub-token";
    public const string AgentLabels = "app.kubernetes.io/name=gadget,app.kubernetes.io/component=agent";

    /// <summary>How many changes the watch history keeps (the API server's watch cache is bounded too).</summary>
    private const int HistoryLimit = 1000;

    private WebApplication? _app;
    private readonly ConcurrentDictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _backends = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private long _resourceVersion = 1000;
    private readonly List<Change> _history = [];
    private long _historyStart = 1000;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _watchesEnd = new();

    private KubeApiStub()
    {
    }

    /// <summary>One change to an object, as watches replay it: no object after for a deletion.</summary>
    private sealed record Change(long Version, string Key, JsonObject? Before, JsonObject? After);

    /// <summary>The API server's address (http://127.0.0.1:PORT).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>How often a watch that allows them gets a BOOKMARK (the API server sends about one a minute).</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Requests refused with 403, as "verb resource" ("create pods/portforward", "patch daemonsets").</summary>
    public ConcurrentDictionary<string, bool> Denied { get; } = new(StringComparer.Ordinal);

    /// <summary>The cluster's nodes and their labels (DaemonSets count them for desiredNumberScheduled).</summary>
    public ConcurrentDictionary<string, Dictionary<string, string>> Nodes { get; } = new(StringComparer.Ordinal);

    /// <summary>Every request, as "METHOD path?query", for assertions.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static async Task<KubeApiStub> StartAsync()
    {
        var stub = new KubeApiStub();
        await stub.ServeAsync(0).ConfigureAwait(false);
        return stub;
    }

    /// <summary>Stops serving, as an API server that goes down: open watches end, connections are refused.</summary>
    public async Task StopAsync()
    {
        if (_app is WebApplication app)
        {
            _app = null;
            EndWatches();
            await app.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Serves again at the same address with the same objects, as a restarted API server: its
    /// watch history starts now, so a watch from an earlier version is answered 410 Expired.
    /// </summary>
    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        ForgetWatchHistory();
        await ServeAsync(Url.Port).ConfigureAwait(false);
    }

    private async Task ServeAsync(int port)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        WebApplication app = builder.Build();
        app.UseWebSockets();
        app.Run(HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        _app = app;
    }

    /// <summary>Forgets the changes so far, as a compacted watch cache: watches from their versions get 410 Expired.</summary>
    public void ForgetWatchHistory()
    {
        lock (_lock)
        {
            _history.Clear();
            _historyStart = Interlocked.Read(ref _resourceVersion);
        }
    }

    /// <summary>Ends every open watch, as the server does when a watch's timeout comes.</summary>
    public void EndWatches()
    {
        // Not disposed: a watch starting now may still be linking to it.
        Interlocked.Exchange(ref _watchesEnd, new CancellationTokenSource()).Cancel();
    }

    /// <summary>
    /// A pod on <paramref name="node"/> (the kubelet's view: running, with a status for each
    /// container whose runtime id is given). Returns its uid: <paramref name="uid"/>, or one the
    /// server makes up (a test whose container exists before its pod chooses it).
    /// </summary>
    public string AddPod(string ns, string name, string node, IReadOnlyDictionary<string, string>? labels = null, IReadOnlyDictionary<string, string>? containerIds = null, string? uid = null)
    {
        var statuses = new JsonArray();
        foreach ((string container, string id) in containerIds ?? new Dictionary<string, string>())
        {
            statuses.Add(new JsonObject
            {
                ["name"] = container,
                ["containerID"] = $"containerd://{id}",
                ["ready"] = true,
                ["state"] = new JsonObject { ["running"] = new JsonObject() },
            });
        }

        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = LabelsObject(labels) },
            ["spec"] = new JsonObject
            {
                ["nodeName"] = node,
                ["containers"] = new JsonArray([.. (containerIds?.Keys ?? []).Select(container => (JsonNode)new JsonObject { ["name"] = container, ["image"] = "busybox" })]),
            },
            ["status"] = new JsonObject { ["phase"] = "Running", ["containerStatuses"] = statuses },
        };
        lock (_lock)
        {
            Store(Key("", "pods", ns, name), pod, isNew: true, uid);
        }

        return (string)pod["metadata"]!["uid"]!;
    }

    /// <summary>Replaces a pod's labels (kubectl label --overwrite, removing the others).</summary>
    public void SetPodLabels(string ns, string name, IReadOnlyDictionary<string, string> labels)
    {
        lock (_lock)
        {
            string key = Key("", "pods", ns, name);
            JsonObject pod = (JsonObject)_objects[key].DeepClone();
            pod["metadata"]!["labels"] = LabelsObject(labels);
            Store(key, pod, isNew: false);
        }
    }

    /// <summary>Deletes a pod (at once, as with a zero grace period).</summary>
    public void DeletePod(string ns, string name)
    {
        lock (_lock)
        {
            Remove(Key("", "pods", ns, name));
        }
    }

    private static JsonObject LabelsObject(IReadOnlyDictionary<string, string>? labels)
        => new([.. (labels ?? new Dictionary<string, string>()).Select(label => KeyValuePair.Create(label.Key, (JsonNode?)label.Value))]);

    /// <summary>A kubeconfig for this server, whose context's namespace is <paramref name="ns"/>.</summary>
    public string KubeConfig(string ns = "default", string token = Token) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: stub
          cluster:
            server: {Url.ToString().TrimEnd('/')}
        users:
        - name: stub-user
          user:
            token: {token}
        contexts:
        - name: stub
          context:
            cluster: stub
            user: stub-user
            namespace: {ns}
        - name: other
          context:
            cluster: stub
            user: stub-user
            namespace: other-ns
        current-context: stub
        """;

    /// <summary>
    /// An agent pod of the DaemonSet on <paramref name="node"/>, whose port 8080 is forwarded to
    /// 127.0.0.1:<paramref name="backendPort"/>.
    /// </summary>
    public void AddAgentPod(string ns, string node, int backendPort, bool ready = true, string? waitingReason = null)
    {
        Nodes.TryAdd(node, new Dictionary<string, string> { ["kubernetes.io/os"] = "linux", ["kubernetes.io/hostname"] = node });
        string name = $"gadget-{node}";
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["labels"] = new JsonObject { ["app.kubernetes.io/name"] = "gadget", ["app.kubernetes.io/component"] = "agent" },
            },
            ["spec"] = new JsonObject
            {
                ["nodeName"] = node,
                ["containers"] = new JsonArray(new JsonObject { ["name"] = "agent", ["image"] = "gadget-agent:stub" }),
            },
            ["status"] = new JsonObject
            {
                ["phase"] = ready ? "Running" : "Pending",
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False" }),
                ["containerStatuses"] = new JsonArray(new JsonObject
                {
                    ["name"] = "agent",
                    ["ready"] = ready,
                    ["state"] = ready || waitingReason is null
                        ? new JsonObject { ["running"] = new JsonObject() }
                        : new JsonObject { ["waiting"] = new JsonObject { ["reason"] = waitingReason, ["message"] = $"stub: {waitingReason}" } },
                }),
            },
        };
        lock (_lock)
        {
            Store(Key("", "pods", ns, name), pod, isNew: true);
        }

        _backends[$"{ns}/{name}"] = backendPort;
    }

    /// <summary>An object as the server holds it, or null.</summary>
    public JsonObject? Get(string resource, string? ns, string name)
        => _objects.TryGetValue(Key(GroupOf(resource), resource, ns, name), out JsonObject? value) ? (JsonObject)value.DeepClone() : null;

    /// <summary>Every object of a resource (all namespaces).</summary>
    public IReadOnlyList<JsonObject> List(string resource)
        => [.. _objects.Where(e => e.Key.Split('|')[1] == resource).Select(e => (JsonObject)e.Value.DeepClone())];

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
    }

    private static string GroupOf(string resource) => resource switch
    {
        "daemonsets" => "apps",
        "clusterroles" or "clusterrolebindings" or "roles" or "rolebindings" => "rbac.authorization.k8s.io",
        _ => string.Empty,
    };

    private static readonly HashSet<string> ClusterScoped = ["namespaces", "clusterroles", "clusterrolebindings", "nodes"];

    private static readonly Dictionary<string, (string ApiVersion, string Kind)> Kinds = new()
    {
        ["namespaces"] = ("v1", "Namespace"),
        ["serviceaccounts"] = ("v1", "ServiceAccount"),
        ["pods"] = ("v1", "Pod"),
        ["daemonsets"] = ("apps/v1", "DaemonSet"),
        ["clusterroles"] = ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ["clusterrolebindings"] = ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ["roles"] = ("rbac.authorization.k8s.io/v1", "Role"),
    };

    private static string Key(string group, string resource, string? ns, string name) => $"{group}|{resource}|{ns}|{name}";

    private async Task HandleAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        Requests.Enqueue($"{request.Method} {request.Path}{request.QueryString}");
        if (request.Headers.Authorization.ToString() != $"Bearer {Token}")
        {
            await WriteStatusAsync(context, 401, "Unauthorized", "Unauthorized").ConfigureAwait(false);
            return;
        }

        // /api/v1/... or /apis/GROUP/VERSION/...
        string[] segments = request.Path.Value!.Trim('/').Split('/');
        int at;
        string group;
        if (segments is ["api", "v1", ..])
        {
            group = string.Empty;
            at = 2;
        }
        else if (segments.Length >= 3 && segments[0] == "apis")
        {
            group = segments[1];
            at = 3;
        }
        else
        {
            await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource").ConfigureAwait(false);
            return;
        }

        string[] rest = segments[at..];
        string? ns = null;
        if (rest.Length >= 3 && rest[0] == "namespaces")
        {
            ns = rest[1];
            rest = rest[2..];
        }

        if (rest.Length is 0 or > 3 || !Kinds.ContainsKey(rest[0]) || GroupOf(rest[0]) != group)
        {
            await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource").ConfigureAwait(false);
            return;
        }

        string resource = rest[0];
        string? name = rest.Length > 1 ? rest[1] : null;
        string? subresource = rest.Length > 2 ? rest[2] : null;
        bool misplaced = ClusterScoped.Contains(resource) ? ns is not null : ns is null && name is not null;
        if (misplaced)
        {
            await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource").ConfigureAwait(false);
            return;
        }

        string verb = (request.Method, name, subresource) switch
        {
            ("GET", null, _) when IsTrue(request.Query["watch"]) => "watch",
            ("GET", null, _) => "list",
            ("GET", _, "portforward") or ("POST", _, "portforward") => "create",
            ("GET", _, _) => "get",
            ("PATCH", _, _) => "patch",
            ("DELETE", _, _) => "delete",
            _ => "unsupported",
        };
        string rbacResource = subresource is null ? resource : $"{resource}/{subresource}";
        if (Denied.ContainsKey($"{verb} {rbacResource}"))
        {
            string scope = ns is null ? "at the cluster scope" : $"in the namespace \"{ns}\"";
            await WriteStatusAsync(context, 403, "Forbidden",
                $"{resource}{(name is null ? string.Empty : $" \"{name}\"")} is forbidden: User \"stub-user\" cannot {verb} resource \"{rbacResource}\" in API group \"{group}\" {scope}").ConfigureAwait(false);
            return;
        }

        switch (verb)
        {
            case "list" or "watch":
                if (!FieldSelector.TryParse(resource, request.Query["fieldSelector"], out FieldSelector? fields, out string? invalid))
                {
                    await WriteStatusAsync(context, 400, "BadRequest", invalid).ConfigureAwait(false);
                }
                else if (verb == "list")
                {
                    await ListAsync(context, group, resource, ns, fields).ConfigureAwait(false);
                }
                else
                {
                    await WatchAsync(context, group, resource, ns, fields).ConfigureAwait(false);
                }

                break;
            case "get" when subresource is null:
                await GetAsync(context, group, resource, ns, name!).ConfigureAwait(false);
                break;
            case "patch" when subresource is null:
                await ApplyAsync(context, group, resource, ns, name!).ConfigureAwait(false);
                break;
            case "delete" when subresource is null:
                await DeleteAsync(context, group, resource, ns, name!).ConfigureAwait(false);
                break;
            case "create" when resource == "pods":
                await PortForwardAsync(context, ns!, name!).ConfigureAwait(false);
                break;
            default:
                await WriteStatusAsync(context, 405, "MethodNotAllowed", $"the server does not allow this method on the requested resource").ConfigureAwait(false);
                break;
        }
    }

    private async Task ListAsync(HttpContext context, string group, string resource, string? ns, FieldSelector fields)
    {
        string? selector = context.Request.Query["labelSelector"];
        var items = new JsonArray();
        string version;
        lock (_lock)
        {
            foreach ((string key, JsonObject item) in _objects.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                if (InScope(key, group, resource, ns) && Matches(item, selector) && fields.Matches(item))
                {
                    items.Add(WithStatus(resource, item));
                }
            }

            version = Interlocked.Read(ref _resourceVersion).ToString(CultureInfo.InvariantCulture);
        }

        var list = new JsonObject
        {
            ["apiVersion"] = Kinds[resource].ApiVersion,
            ["kind"] = Kinds[resource].Kind + "List",
            ["metadata"] = new JsonObject { ["resourceVersion"] = version },
            ["items"] = items,
        };
        await WriteJsonAsync(context, 200, list).ConfigureAwait(false);
    }

    /// <summary>
    /// A watch: newline-delimited events in one chunked response, from the resourceVersion asked
    /// (none or "0": ADDED for every object now, then changes), until timeoutSeconds, the client
    /// leaving, or the server stopping. A version older than the history gets one ERROR event with
    /// a 410 Expired Status, as the API server's watch cache answers it.
    /// </summary>
    private async Task WatchAsync(HttpContext context, string group, string resource, string? ns, FieldSelector fields)
    {
        string? selector = context.Request.Query["labelSelector"];
        string? requested = context.Request.Query["resourceVersion"];
        bool bookmarks = IsTrue(context.Request.Query["allowWatchBookmarks"]);
        int? timeoutSeconds = int.TryParse(context.Request.Query["timeoutSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) ? seconds : null;
        if (!string.IsNullOrEmpty(requested) && !long.TryParse(requested, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            await WriteStatusAsync(context, 400, "BadRequest", $"invalid resource version \"{requested}\"").ConfigureAwait(false);
            return;
        }

        bool InSelection(JsonObject? item) => item is not null && Matches(item, selector) && fields.Matches(item);

        long from;
        var initial = new List<JsonObject>();
        lock (_lock)
        {
            if (string.IsNullOrEmpty(requested) || requested == "0")
            {
                from = Interlocked.Read(ref _resourceVersion);
                initial.AddRange(_objects.Where(e => InScope(e.Key, group, resource, ns) && InSelection(e.Value)).OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => WithStatus(resource, e.Value)));
            }
            else
            {
                from = long.Parse(requested, CultureInfo.InvariantCulture);
            }
        }

        HttpResponse response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        using var end = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _watchesEnd.Token);
        if (timeoutSeconds is int timeout)
        {
            end.CancelAfter(TimeSpan.FromSeconds(timeout));
        }

        try
        {
            await response.StartAsync(end.Token).ConfigureAwait(false);
            foreach (JsonObject item in initial)
            {
                await WriteEventAsync(response, "ADDED", item, end.Token).ConfigureAwait(false);
            }

            DateTime nextBookmark = DateTime.UtcNow + BookmarkInterval;
            while (true)
            {
                List<Change> changes;
                Task changed;
                bool expired;
                lock (_lock)
                {
                    expired = from < _historyStart;
                    changes = [.. _history.Where(c => c.Version > from && InScope(c.Key, group, resource, ns))];
                    changed = _changed.Task;
                }

                if (expired)
                {
                    await WriteEventAsync(response, "ERROR", StatusObject(410, "Expired", $"too old resource version: {from} ({_historyStart})"), end.Token).ConfigureAwait(false);
                    return;
                }

                foreach (Change change in changes)
                {
                    // What a client sees is its selection: an object entering it is ADDED, leaving it DELETED.
                    (string? type, JsonObject? item) = (InSelection(change.Before), InSelection(change.After)) switch
                    {
                        (false, true) => ("ADDED", change.After),
                        (true, true) => ("MODIFIED", change.After),
                        (true, false) => ("DELETED", change.After ?? change.Before),
                        _ => (null, null),
                    };
                    if (type is not null)
                    {
                        await WriteEventAsync(response, type, WithStatus(resource, item!), end.Token).ConfigureAwait(false);
                    }
                }

                from = changes.Count > 0 ? changes[^1].Version : from;
                TimeSpan untilBookmark = nextBookmark - DateTime.UtcNow;
                if (bookmarks && untilBookmark <= TimeSpan.Zero)
                {
                    var bookmark = new JsonObject
                    {
                        ["apiVersion"] = Kinds[resource].ApiVersion,
                        ["kind"] = Kinds[resource].Kind,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = Interlocked.Read(ref _resourceVersion).ToString(CultureInfo.InvariantCulture) },
                    };
                    await WriteEventAsync(response, "BOOKMARK", bookmark, end.Token).ConfigureAwait(false);
                    nextBookmark = DateTime.UtcNow + BookmarkInterval;
                    continue;
                }

                await Task.WhenAny(changed, Task.Delay(bookmarks ? untilBookmark : Timeout.InfiniteTimeSpan, end.Token)).ConfigureAwait(false);
                end.Token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException)
        {
            // The watch's time is up, the client left, or the server stops: the response ends.
        }
    }

    private static async Task WriteEventAsync(HttpResponse response, string type, JsonObject item, CancellationToken token)
    {
        string line = new JsonObject { ["type"] = type, ["object"] = item }.ToJsonString(JsonOptions) + "\n";
        await response.WriteAsync(line, token).ConfigureAwait(false);
        await response.Body.FlushAsync(token).ConfigureAwait(false);
    }

    private static bool InScope(string key, string group, string resource, string? ns)
    {
        string[] parts = key.Split('|');
        return parts[0] == group && parts[1] == resource && (ns is null || parts[2] == ns);
    }

    private static bool IsTrue(string? value) => value is "true" or "1";

    private async Task GetAsync(HttpContext context, string group, string resource, string? ns, string name)
    {
        if (!_objects.TryGetValue(Key(group, resource, ns, name), out JsonObject? item))
        {
            await WriteNotFoundAsync(context, group, resource, name).ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, 200, WithStatus(resource, item)).ConfigureAwait(false);
    }

    private async Task ApplyAsync(HttpContext context, string group, string resource, string? ns, string name)
    {
        if (context.Request.ContentType?.Split(';')[0].Trim() != "application/apply-patch+yaml")
        {
            await WriteStatusAsync(context, 415, "UnsupportedMediaType", $"the stub supports only server-side apply, not {context.Request.ContentType}").ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(context.Request.Query["fieldManager"]))
        {
            await WriteStatusAsync(context, 400, "BadRequest", "PATCH request must have fieldManager").ConfigureAwait(false);
            return;
        }

        JsonObject? body;
        try
        {
            body = await JsonNode.ParseAsync(context.Request.Body).ConfigureAwait(false) as JsonObject;
        }
        catch (JsonException exception)
        {
            await WriteStatusAsync(context, 400, "BadRequest", $"the stub reads JSON apply bodies only: {exception.Message}").ConfigureAwait(false);
            return;
        }

        (string apiVersion, string kind) = Kinds[resource];
        if (body is null || (string?)body["apiVersion"] != apiVersion || (string?)body["kind"] != kind || (string?)body["metadata"]?["name"] != name)
        {
            await WriteStatusAsync(context, 400, "BadRequest", $"the body must be a {apiVersion} {kind} named {name}").ConfigureAwait(false);
            return;
        }

        string? bodyNamespace = (string?)body["metadata"]?["namespace"];
        if (bodyNamespace is not null && bodyNamespace != ns)
        {
            await WriteStatusAsync(context, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request").ConfigureAwait(false);
            return;
        }

        string key = Key(group, resource, ns, name);
        JsonObject result;
        int code;
        lock (_lock)
        {
            body.Remove("status");
            JsonObject metadata = body["metadata"]!.AsObject();
            if (ns is not null)
            {
                metadata["namespace"] = ns;
            }

            if (_objects.TryGetValue(key, out JsonObject? existing))
            {
                // One field manager owns everything here, so the applied configuration is the object.
                JsonObject old = existing["metadata"]!.AsObject();
                foreach (string kept in new[] { "uid", "creationTimestamp", "resourceVersion", "generation" })
                {
                    if (old[kept] is JsonNode value)
                    {
                        metadata[kept] = value.DeepClone();
                    }
                }

                if (JsonNode.DeepEquals(body, existing))
                {
                    result = existing;
                }
                else
                {
                    if (resource == "daemonsets" && !JsonNode.DeepEquals(body["spec"], existing["spec"]))
                    {
                        metadata["generation"] = Number(old["generation"], 1) + 1;
                    }

                    Store(key, body, isNew: false);
                    result = body;
                }

                code = 200;
            }
            else
            {
                if (resource == "daemonsets")
                {
                    metadata["generation"] = 1L;
                }

                Store(key, body, isNew: true);
                result = body;
                code = 201;
            }
        }

        await WriteJsonAsync(context, code, WithStatus(resource, result)).ConfigureAwait(false);
    }

    private async Task DeleteAsync(HttpContext context, string group, string resource, string? ns, string name)
    {
        JsonObject? removed;
        lock (_lock)
        {
            removed = Remove(Key(group, resource, ns, name));
            if (removed is not null && resource == "namespaces")
            {
                foreach (string key in _objects.Keys.Where(k => k.Split('|')[2] == name))
                {
                    Remove(key);
                }
            }
        }

        if (removed is null)
        {
            await WriteNotFoundAsync(context, group, resource, name).ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, 200, new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Status",
            ["status"] = "Success",
            ["details"] = new JsonObject { ["name"] = name, ["group"] = group, ["kind"] = resource, ["uid"] = removed["metadata"]?["uid"]?.DeepClone() },
        }).ConfigureAwait(false);
    }

    private async Task PortForwardAsync(HttpContext context, string ns, string name)
    {
        if (!_objects.ContainsKey(Key(string.Empty, "pods", ns, name)))
        {
            await WriteNotFoundAsync(context, string.Empty, "pods", name).ConfigureAwait(false);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            await WriteStatusAsync(context, 400, "BadRequest", "Upgrade request required").ConfigureAwait(false);
            return;
        }

        if (!ushort.TryParse(context.Request.Query["ports"], NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
        {
            await WriteStatusAsync(context, 400, "BadRequest", "query parameter \"ports\" is required (one port per WebSocket)").ConfigureAwait(false);
            return;
        }

        if (!context.WebSockets.WebSocketRequestedProtocols.Contains("v4.channel.k8s.io"))
        {
            await WriteStatusAsync(context, 400, "BadRequest", "the stub speaks the v4.channel.k8s.io port-forward protocol only").ConfigureAwait(false);
            return;
        }

        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync("v4.channel.k8s.io").ConfigureAwait(false);
        CancellationToken token = context.RequestAborted;
        byte[] portBytes = [(byte)(port & 0xff), (byte)(port >> 8)];
        await socket.SendAsync(new byte[] { 0, portBytes[0], portBytes[1] }, WebSocketMessageType.Binary, true, token).ConfigureAwait(false);
        await socket.SendAsync(new byte[] { 1, portBytes[0], portBytes[1] }, WebSocketMessageType.Binary, true, token).ConfigureAwait(false);

        using var tcp = new TcpClient();
        try
        {
            int backend = port == 8080 && _backends.TryGetValue($"{ns}/{name}", out int mapped) ? mapped : -1;
            if (backend < 0)
            {
                throw new SocketException((int)SocketError.ConnectionRefused);
            }

            await tcp.ConnectAsync(IPAddress.Loopback, backend, token).ConfigureAwait(false);
        }
        catch (SocketException exception)
        {
            string message = $"error forwarding port {port} to pod {name}, uid : failed to execute portforward in network namespace: dial tcp4 127.0.0.1:{port}: {exception.Message}";
            byte[] text = [1, .. Encoding.UTF8.GetBytes(message)];
            await socket.SendAsync(text, WebSocketMessageType.Binary, true, token).ConfigureAwait(false);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, token).ConfigureAwait(false);
            return;
        }

        NetworkStream stream = tcp.GetStream();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task upstream = Task.Run(async () =>
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        if (length == buffer.Length)
                        {
                            Array.Resize(ref buffer, buffer.Length * 2);
                        }

                        result = await socket.ReceiveAsync(buffer.AsMemory(length), done.Token).ConfigureAwait(false);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    if (length > 1 && buffer[0] == 0)
                    {
                        await stream.WriteAsync(buffer.AsMemory(1, length - 1), done.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception exception) when (exception is WebSocketException or IOException or OperationCanceledException)
            {
                // Either side went away.
            }
        }, CancellationToken.None);
        Task downstream = Task.Run(async () =>
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int read = await stream.ReadAsync(buffer.AsMemory(1), done.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    buffer[0] = 0;
                    await socket.SendAsync(buffer.AsMemory(0, read + 1), WebSocketMessageType.Binary, true, done.Token).ConfigureAwait(false);
                }
            }
            catch (Exception exception) when (exception is WebSocketException or IOException or OperationCanceledException or SocketException)
            {
                // Either side went away.
            }
        }, CancellationToken.None);
        await Task.WhenAny(upstream, downstream).ConfigureAwait(false);
        await done.CancelAsync().ConfigureAwait(false);
        tcp.Close();
        if (socket.State == WebSocketState.Open)
        {
            try
            {
                using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, closing.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
                // The client has gone.
            }
        }

        await Task.WhenAll(upstream, downstream).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Stores an object under a new resourceVersion and records the change for watches. Callers hold the lock.</summary>
    private void Store(string key, JsonObject item, bool isNew, string? uid = null)
    {
        JsonObject metadata = item["metadata"]!.AsObject();
        if (isNew)
        {
            metadata["uid"] = uid ?? Guid.NewGuid().ToString();
            metadata["creationTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }

        long version = Interlocked.Increment(ref _resourceVersion);
        metadata["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture);
        _objects.TryGetValue(key, out JsonObject? before);
        _objects[key] = item;
        Record(new Change(version, key, before, item));
    }

    /// <summary>Deletes an object, recording the deletion (under a new resourceVersion) for watches. Callers hold the lock.</summary>
    private JsonObject? Remove(string key)
    {
        if (!_objects.TryRemove(key, out JsonObject? removed))
        {
            return null;
        }

        long version = Interlocked.Increment(ref _resourceVersion);
        var last = (JsonObject)removed.DeepClone();
        last["metadata"]!["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture);
        Record(new Change(version, key, last, null));
        return removed;
    }

    private void Record(Change change)
    {
        _history.Add(change);
        if (_history.Count > HistoryLimit)
        {
            _historyStart = _history[0].Version;
            _history.RemoveAt(0);
        }

        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>A DaemonSet's status, computed as the controller would: its nodes and its ready pods.</summary>
    private JsonObject WithStatus(string resource, JsonObject item)
    {
        JsonObject copy = (JsonObject)item.DeepClone();
        if (resource != "daemonsets")
        {
            return copy;
        }

        string ns = (string)copy["metadata"]!["namespace"]!;
        JsonObject? selector = copy["spec"]?["template"]?["spec"]?["nodeSelector"] as JsonObject;
        var nodes = Nodes.Where(node => selector is null || selector.All(s => node.Value.TryGetValue(s.Key, out string? v) && v == (string?)s.Value)).Select(n => n.Key).ToHashSet();
        int ready = _objects
            .Where(e => e.Key.StartsWith($"|pods|{ns}|", StringComparison.Ordinal))
            .Select(e => e.Value)
            .Count(pod => nodes.Contains((string?)pod["spec"]?["nodeName"] ?? string.Empty) && Matches(pod, AgentLabels) &&
                          pod["status"]?["conditions"]?.AsArray().Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True") == true);
        long generation = Number(copy["metadata"]!["generation"], 1);
        copy["status"] = new JsonObject
        {
            ["desiredNumberScheduled"] = nodes.Count,
            ["currentNumberScheduled"] = nodes.Count,
            ["updatedNumberScheduled"] = nodes.Count,
            ["numberReady"] = ready,
            ["numberAvailable"] = ready,
            ["numberMisscheduled"] = 0,
            ["observedGeneration"] = generation,
        };
        return copy;
    }

    /// <summary>Equality-based label selectors (a=b,c=d, a!=b, and bare keys), as the API server reads them.</summary>
    private static bool Matches(JsonObject item, string? selector)
    {
        if (string.IsNullOrEmpty(selector))
        {
            return true;
        }

        JsonObject? labels = item["metadata"]?["labels"] as JsonObject;
        foreach (string term in selector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int notEqual = term.IndexOf("!=", StringComparison.Ordinal);
            int equal = term.IndexOf('=', StringComparison.Ordinal);
            if (notEqual > 0)
            {
                if ((string?)labels?[term[..notEqual]] == term[(notEqual + 2)..])
                {
                    return false;
                }
            }
            else if (equal > 0)
            {
                string key = term[..equal];
                string value = term[(equal + 1)..].TrimStart('=');
                if ((string?)labels?[key] != value)
                {
                    return false;
                }
            }
            else if (labels?[term] is null)
            {
                return false;
            }
        }

        return true;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static long Number(JsonNode? node, long fallback)
        => node is null ? fallback : long.Parse(node.ToJsonString(), CultureInfo.InvariantCulture);

    private static Task WriteNotFoundAsync(HttpContext context, string group, string resource, string name)
        => WriteStatusAsync(context, 404, "NotFound", $"{resource}{(group.Length > 0 ? "." + group : string.Empty)} \"{name}\" not found");

    private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message)
        => WriteJsonAsync(context, code, StatusObject(code, reason, message));

    private static JsonObject StatusObject(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static async Task WriteJsonAsync(HttpContext context, int code, JsonNode body)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(JsonOptions), context.RequestAborted).ConfigureAwait(false);
    }
}
