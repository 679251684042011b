using Gadget.Agent;
using Gadget.Agent.Containers;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Runtime;
using Gadget.Agent.Services;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;

if (args is ["--probe", string probePort])
{
    return await HealthProbe.RunAsync(probePort);
}

AgentOptions options;
try
{
    options = AgentOptions.Parse(args);
}
catch (Exception exception) when (exception is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine(exception.Message);
    Console.Error.WriteLine(AgentOptions.Usage);
    return 2;
}

// Before anything creates a file: the socket must never exist with wider permissions than root's.
UnixSocketListener.CreateOwnerOnly();
if (options.SocketPath is not null && !UnixSocketListener.Prepare(options.SocketPath, out string? problem))
{
    Console.Error.WriteLine(problem);
    return 1;
}

// The host's defaults would watch appsettings.json in the working directory for changes, and so
// put an inotify watch on every directory under it: started from / that is tens of thousands of
// watches (seconds before the socket opens), and every file written under it wakes the agent. The
// agent has no settings file to reload.
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Logging.AddFilter("Gadget", LogLevel.Information);
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(3));
builder.WebHost.ConfigureKestrel(kestrel =>
{
    if (options.SocketPath is not null)
    {
        kestrel.ListenUnixSocket(options.SocketPath, listen => listen.Protocols = HttpProtocols.Http2);
    }

    if (options.ListenPort is int port)
    {
        kestrel.Listen(System.Net.IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2);
    }
});
builder.Services.AddSingleton(options);
builder.Services.AddSingleton(new TraceAdmission(options.MaxTraces, options.NodeName));
builder.Services.AddSingleton(GadgetCatalog.Default);
builder.Services.AddSingleton<ContainerCollection>();
builder.Services.AddSingleton<SnapshotObjectPool>();
builder.Services.AddHostedService<ContainerWatcher>();
builder.Services.AddGrpc(grpc => grpc.MaxSendMessageSize = null);
// The health service reports the registered checks; with none it answers Unknown, which fails
// the DaemonSet's probes. Serving on the port is what the probes need to know.
builder.Services.AddGrpcHealthChecks().AddCheck("serving", () => HealthCheckResult.Healthy());
if (options.ParentPid is int parentPid)
{
    builder.Services.AddHostedService(services => new ParentWatcher(parentPid, services.GetRequiredService<IHostApplicationLifetime>()));
}

WebApplication app = builder.Build();
app.MapGrpcService<GadgetAgentService>();
app.MapGrpcHealthChecksService();
app.Lifetime.ApplicationStarted.Register(() =>
{
    if (options.SocketPath is not null)
    {
        UnixSocketListener.RestrictToOwner(options.SocketPath);
    }
});
app.Lifetime.ApplicationStopped.Register(() =>
{
    if (options.SocketPath is not null)
    {
        File.Delete(options.SocketPath);
    }
});

try
{
    await app.StartAsync();
}
catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException && options.SocketPath is not null)
{
    // Kestrel's bind failures (a full file system: ENOSPC) end the agent with a message, not an abort.
    Console.Error.WriteLine($"Cannot serve on {options.SocketPath}: {UnixSocketListener.DescribeBindFailure(options.SocketPath!, exception)}");
    await app.DisposeAsync();
    return 1;
}

await app.WaitForShutdownAsync();
return 0;
