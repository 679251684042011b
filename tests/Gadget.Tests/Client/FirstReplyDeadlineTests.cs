using System.Diagnostics;
using Gadget.Connection;
using Gadget.Protocol.V1;
using Gadget.Tracing;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>
/// An agent that is alive (its HTTP/2 server answers pings, so no read ever waits long) but hangs
/// while it starts a trace, never sending the schema: the client gives up after its first-reply
/// deadline with AgentUnresponsive, through the same path the cmdlets use, and cancels the call.
/// </summary>
public sealed class FirstReplyDeadlineTests
{
    [Fact]
    public async Task AnAgentThatHangsInTraceStartEndsTheTraceWithAgentUnresponsive()
    {
        await using HangingAgent agent = await HangingAgent.StartAsync();
        using AgentConnection connection = AgentConnection.ForUnixSocket(agent.Socket);
        var clock = Stopwatch.StartNew();
        using var session = TraceSession.Start(connection, new Gadget.Tracing.TraceOptions { Gadget = "exec", Duration = TimeSpan.FromSeconds(60) }, "node", CancellationToken.None);

        object? item = null;
        while (!session.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(40) && item is null)
        {
            session.TryTake(out item, TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }

        TimeSpan elapsed = clock.Elapsed;
        GadgetException exception = Assert.IsType<GadgetException>(item);
        Assert.Equal(GadgetErrorId.AgentUnresponsive, exception.ErrorId);
        Assert.Equal(GadgetErrorKind.Timeout, exception.Kind);
        Assert.Contains("sent no reply to the trace", exception.Message, StringComparison.Ordinal);
        Assert.Contains(agent.Socket, exception.Message, StringComparison.Ordinal);
        Assert.InRange(elapsed, AgentConnection.FirstReplyTimeout - TimeSpan.FromSeconds(1), AgentConnection.FirstReplyTimeout + TimeSpan.FromSeconds(5));

        // The agent was reached, and the client's cancel reached it in turn.
        Assert.True(agent.Service.Started.Task.IsCompletedSuccessfully);
        Assert.True(await agent.Service.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    /// <summary>A gRPC server on a unix socket whose Trace takes the request and never writes.</summary>
    private sealed class HangingAgent : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private HangingAgent(WebApplication app, string socket, HangingService service)
        {
            _app = app;
            Socket = socket;
            Service = service;
        }

        public string Socket { get; }

        public HangingService Service { get; }

        public static async Task<HangingAgent> StartAsync()
        {
            string socket = Path.Combine(Path.GetTempPath(), $"gadget-hanging-{Guid.NewGuid():N}.sock");
            var service = new HangingService();
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(socket, listen => listen.Protocols = HttpProtocols.Http2));
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(service);
            WebApplication app = builder.Build();
            app.MapGrpcService<HangingService>();
            await app.StartAsync();
            return new HangingAgent(app, socket, service);
        }

        public async ValueTask DisposeAsync()
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(stopping.Token);
            await _app.DisposeAsync();
            File.Delete(Socket);
        }
    }

    private sealed class HangingService : GadgetAgent.GadgetAgentBase
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task Trace(TraceRequest request, IServerStreamWriter<TraceReply> responseStream, ServerCallContext context)
        {
            Started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                Cancelled.TrySetResult(true);
                throw;
            }
        }
    }
}
