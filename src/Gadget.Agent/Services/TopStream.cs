using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Runtime;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Grpc.Core;

namespace Gadget.Agent.Services;

/// <summary>
/// The Trace call for a top gadget: the schema, then one batch per window, each holding every row
/// of its window (none when nothing was counted) with the window's index, start and end, and the
/// counters after it. Windows follow one clock from the start (the n-th ends n intervals after the
/// programs were attached), so a slow window does not push the later ones back. The run ends after
/// the windows asked for, when the duration ends (the window under way is cut short and sent), or
/// when the client goes away.
/// </summary>
internal static class TopStream
{
    public const string InvalidInterval = "InvalidInterval";

    public static async Task RunAsync(
        GadgetDefinition gadget,
        TraceRequest request,
        IServerStreamWriter<TraceReply> stream,
        ServerCallContext context,
        AgentOptions options,
        ContainerCollection containers,
        IHostApplicationLifetime lifetime,
        ILogger logger)
    {
        TimeSpan interval = request.IntervalMs == 0 ? TopRun.DefaultInterval : TimeSpan.FromMilliseconds(request.IntervalMs);
        if (interval < TopRun.MinInterval || interval > TopRun.MaxInterval)
        {
            throw AgentErrors.Create(StatusCode.InvalidArgument, InvalidInterval,
                $"A top's interval must lie between {TopRun.MinInterval.TotalMilliseconds} ms and {TopRun.MaxInterval.TotalDays} day; {request.IntervalMs} ms was asked for.");
        }

        TopRun run;
        try
        {
            run = TopRun.Start(gadget, request, options.Trace, containers);
        }
        catch (Exception exception)
        {
            AgentLog.TraceFailed(logger, gadget.Name, exception.Message);
            throw AgentErrors.ToRpcException(exception);
        }

        AgentLog.TraceStarted(logger, gadget.Name, context.Peer);
        IdleMemory.TraceStarted();
        try
        {
            using (run)
            {
                await StreamAsync(run, request, interval, stream, context, options, lifetime, logger);
            }
        }
        finally
        {
            IdleMemory.TraceEnded();
        }
    }

    private static async Task StreamAsync(
        TopRun run,
        TraceRequest request,
        TimeSpan interval,
        IServerStreamWriter<TraceReply> stream,
        ServerCallContext context,
        AgentOptions options,
        IHostApplicationLifetime lifetime,
        ILogger logger)
    {
        CancellationToken clientGone = context.CancellationToken;
        using var durationEnd = new CancellationTokenSource();
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(clientGone, lifetime.ApplicationStopping, durationEnd.Token);
        if (request.DurationMs > 0)
        {
            durationEnd.CancelAfter(TimeSpan.FromMilliseconds(request.DurationMs));
        }

        // The programs count from here on: say so, so a client can start its workload.
        await stream.WriteAsync(new TraceReply { Schema = SchemaMessage.Create(run.Schema, BootClock.Now().BootTimeUnixNanoseconds) }, clientGone);
        await stream.WriteAsync(new TraceReply { Counters = run.Counters(0) }, clientGone);
        if (run.StartNotice is string notice)
        {
            await stream.WriteAsync(new TraceReply { Notice = new Notice { Id = "NoContainerMatches", Message = notice } }, clientGone);
        }

        DateTime first = DateTime.UtcNow;
        DateTime start = first;
        ulong delivered = 0;
        ulong index = 0;
        while (!clientGone.IsCancellationRequested)
        {
            index++;
            DateTime due = first + (interval * index);
            TimeSpan wait = due - DateTime.UtcNow;
            if (wait > TimeSpan.Zero && !stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(wait, stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    // The duration ended, the agent is stopping or the client went: the window under way is the last.
                }
            }

            if (clientGone.IsCancellationRequested)
            {
                break;
            }

            RowBatch window = await Task.Run(run.DrainWindow, CancellationToken.None);
            DateTime end = DateTime.UtcNow;
            EventBatch message = window.ToMessage();
            message.Window = new TopWindow { Index = index, StartUnixNs = UnixNs(start), EndUnixNs = UnixNs(end) };
            await stream.WriteAsync(new TraceReply { Batch = message }, clientGone);
            delivered += (ulong)window.Count;
            start = end;
            bool last = stopping.IsCancellationRequested || (request.MaxWindows > 0 && index >= request.MaxWindows);
            await stream.WriteAsync(new TraceReply { Counters = run.Counters(delivered, final: last) }, clientGone);
            if (last)
            {
                break;
            }
        }

        TraceCounters final = run.Counters(delivered);
        AgentLog.TraceEnded(logger, run.Gadget.Name, final);
        if (lifetime.ApplicationStopping.IsCancellationRequested && !clientGone.IsCancellationRequested && !durationEnd.IsCancellationRequested
            && (request.MaxWindows == 0 || index < request.MaxWindows))
        {
            // Neither the duration nor the windows asked for ended the top: the agent did.
            throw AgentErrors.Create(StatusCode.Unavailable, AgentErrors.AgentStopping,
                $"The agent on {options.NodeName} is shutting down; the top ended with it after {index} windows.");
        }
    }

    private static long UnixNs(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}
