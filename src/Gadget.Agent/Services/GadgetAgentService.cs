using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Grpc.Core;

namespace Gadget.Agent.Services;

/// <summary>The gRPC face of the agent.</summary>
internal sealed class GadgetAgentService(
    GadgetCatalog catalog,
    ContainerCollection containers,
    AgentOptions options,
    TraceAdmission admission,
    SnapshotObjectPool snapshotObjects,
    IHostApplicationLifetime lifetime,
    ILogger<GadgetAgentService> logger) : GadgetAgent.GadgetAgentBase
{
    /// <summary>Version of the contract this agent speaks (see gadget.proto).</summary>
    public const uint ProtocolVersion = 2;

    private static readonly TimeSpan CountersInterval = TimeSpan.FromSeconds(1);

    /// <summary>New loss is reported this soon after the last counters, without waiting for the interval.</summary>
    private static readonly TimeSpan LossCountersInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest duration_ms a trace may ask for: the most its timer takes (2^32 - 2 ms, 49.7 days).</summary>
    public const ulong MaxDurationMs = uint.MaxValue - 1;

    /// <summary>How long a request waits for the first container scan of a just-started agent.</summary>
    private static readonly TimeSpan InitialScanWait = TimeSpan.FromSeconds(3);

    public override Task<AgentInfo> GetInfo(GetInfoRequest request, ServerCallContext context)
    {
        var info = new AgentInfo
        {
            Version = AgentOptions.Version,
            ProtocolVersion = ProtocolVersion,
            Node = options.NodeName,
            Kernel = AgentOptions.KernelRelease,
        };
        foreach (GadgetDefinition gadget in catalog.All)
        {
            var descriptor = new GadgetDescriptor { Name = gadget.Name, Description = gadget.Description, Diagnostic = gadget.Diagnostic };
            foreach (GadgetParameter parameter in gadget.Parameters)
            {
                descriptor.Parameters[parameter.Key] = parameter.Help;
            }
            info.Gadgets.Add(descriptor);
        }

        return Task.FromResult(info);
    }

    public override async Task<ListContainersReply> ListContainers(ListContainersRequest request, ServerCallContext context)
    {
        await WaitForInitialScanAsync(context.CancellationToken);
        var selection = new ContainerSelection(request.Selector);
        var reply = new ListContainersReply();
        reply.Containers.Add(containers.All.Where(selection.Matches).OrderBy(c => c.PodNamespace, StringComparer.Ordinal).ThenBy(c => c.PodName, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal).Select(c => c.ToInfo()));
        return reply;
    }

    private async Task WaitForInitialScanAsync(CancellationToken token)
    {
        try
        {
            await containers.InitialScan.WaitAsync(InitialScanWait, token);
        }
        catch (TimeoutException)
        {
            // A slow runtime must not block tracing: events wait for their container anyway.
        }
    }

    public override async Task Trace(TraceRequest request, IServerStreamWriter<TraceReply> responseStream, ServerCallContext context)
    {
        if (request.ProtocolVersion != ProtocolVersion)
        {
            // A version 1 client sends no version and reads events this agent no longer sends.
            throw AgentErrors.Create(StatusCode.FailedPrecondition, AgentErrors.ProtocolMismatch,
                $"The agent on {options.NodeName} speaks Gadget protocol {ProtocolVersion} (agent {AgentOptions.Version}); this client speaks protocol {Math.Max(1, request.ProtocolVersion)}. Use a client and an agent of the same version.");
        }

        GadgetDefinition gadget;
        if (request.Program is GadgetProgram program)
        {
            gadget = UserPrograms.Define(program, options);
        }
        else if (!catalog.TryGet(request.Gadget, out gadget))
        {
            throw AgentErrors.Create(StatusCode.NotFound, AgentErrors.UnknownGadget,
                $"This agent has no gadget '{request.Gadget}'. It has: {string.Join(", ", catalog.All.Select(g => g.Name))}.");
        }

        if (request.DurationMs > MaxDurationMs)
        {
            // Refused before anything is attached: the timer would throw once the programs were.
            throw AgentErrors.Create(StatusCode.InvalidArgument, AgentErrors.InvalidDuration,
                $"A trace lasts at most {MaxDurationMs} ms (49.7 days, the agent's timer limit); this one asked for {request.DurationMs} ms. Leave the duration out to trace until the client stops.");
        }

        using IDisposable admitted = admission.Admit();
        await WaitForInitialScanAsync(context.CancellationToken);
        if (gadget.Top is not null)
        {
            await TopStream.RunAsync(gadget, request, responseStream, context, options, containers, lifetime, logger);
            return;
        }

        TraceRun run;
        try
        {
            run = TraceRun.Start(gadget, request, options.Trace, containers, snapshotObjects);
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
                using var durationEnd = new CancellationTokenSource();
                using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping, durationEnd.Token);
                if (request.DurationMs > 0)
                {
                    durationEnd.CancelAfter(TimeSpan.FromMilliseconds(request.DurationMs));
                }

                // What the rows hold, then: the programs are attached. Say so at once, so a client can start
                // its workload knowing that nothing it does from now on is missed.
                await responseStream.WriteAsync(new TraceReply { Schema = SchemaMessage.Create(run.Schema, BootClock.Now().BootTimeUnixNanoseconds) }, context.CancellationToken);
                await responseStream.WriteAsync(new TraceReply { Counters = run.Counters(0) }, context.CancellationToken);
                if (run.StartNotice is string notice)
                {
                    await responseStream.WriteAsync(new TraceReply { Notice = new Notice { Id = "NoContainerMatches", Message = notice } }, context.CancellationToken);
                }

                // Writes stop only when the client goes away: a duration that ends while the stream waits
                // on a slow client must not cancel the write in flight (that resets the stream and the
                // client loses the final counters); the trace ends after that write instead.
                ulong delivered = await StreamAsync(run, request.MaxEvents, responseStream, stopping.Token, context.CancellationToken);
                if (!context.CancellationToken.IsCancellationRequested)
                {
                    // Duration or budget spent: drain what the kernel already produced, then report. At the
                    // end of the duration, what was pending (a query waiting for its response) is reported
                    // too, within the gadget's bound, so no one takes its silence for an answer.
                    bool budgetSpent = request.MaxEvents > 0 && delivered >= request.MaxEvents;
                    await run.StopReadingAsync(settle: !budgetSpent && !lifetime.ApplicationStopping.IsCancellationRequested, context.CancellationToken);
                    delivered += await DrainAsync(run, request.MaxEvents, delivered, responseStream);
                    await responseStream.WriteAsync(new TraceReply { Counters = run.Counters(delivered, final: true) });
                }

                TraceCounters final = run.Counters(delivered);
                AgentLog.TraceEnded(logger, gadget.Name, final);
                if (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested &&
                    !durationEnd.IsCancellationRequested && (request.MaxEvents == 0 || delivered < request.MaxEvents))
                {
                    // Neither the duration nor the budget ended the trace: the agent did. Say so, or
                    // the client would take the end of the stream for the end it asked for.
                    throw AgentErrors.Create(StatusCode.Unavailable, AgentErrors.AgentStopping,
                        $"The agent on {options.NodeName} is shutting down; the trace ended with it after {delivered} events.");
                }
            }
        }
        finally
        {
            IdleMemory.TraceEnded();
        }
    }

    /// <summary>Writes batches and periodic counters until cancelled or the budget is spent.</summary>
    private static async Task<ulong> StreamAsync(TraceRun run, ulong maxEvents, IServerStreamWriter<TraceReply> stream, CancellationToken token, CancellationToken writeToken)
    {
        ulong delivered = 0;
        ulong lostReported = 0;
        DateTime lastCounters = DateTime.UtcNow;
        DateTime nextCounters = lastCounters + CountersInterval;
        while (!token.IsCancellationRequested && !run.Batches.Completion.IsCompleted)
        {
            TimeSpan untilCounters = nextCounters - DateTime.UtcNow;
            if (untilCounters > TimeSpan.Zero)
            {
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(token);
                tick.CancelAfter(untilCounters);
                try
                {
                    await run.Batches.WaitToReadAsync(tick.Token);
                }
                catch (OperationCanceledException)
                {
                    // The tick or the trace ended; both are handled below.
                }
            }

            // Under overload the queue never empties: the counters (and the loss they report) still
            // go out between batches.
            while (!token.IsCancellationRequested && !CountersDue() && run.Batches.TryRead(out RowBatch? batch))
            {
                run.MarkDequeued(batch);
                delivered += await WriteBatchAsync(run, batch, maxEvents, delivered, stream, writeToken);
                if (maxEvents > 0 && delivered >= maxEvents)
                {
                    return delivered;
                }
            }

            if (!token.IsCancellationRequested && CountersDue())
            {
                TraceCounters counters = run.Counters(delivered);
                await stream.WriteAsync(new TraceReply { Counters = counters }, writeToken);
                lostReported = counters.LostKernel + counters.LostAgent;
                lastCounters = DateTime.UtcNow;
                nextCounters = lastCounters + CountersInterval;
            }
        }

        return delivered;

        // Once a second, and soon after any new loss.
        bool CountersDue()
        {
            DateTime now = DateTime.UtcNow;
            return now >= nextCounters || (now >= lastCounters + LossCountersInterval && run.Lost > lostReported);
        }
    }

    private static async Task<ulong> DrainAsync(TraceRun run, ulong maxEvents, ulong delivered, IServerStreamWriter<TraceReply> stream)
    {
        ulong added = 0;
        while ((maxEvents == 0 || delivered + added < maxEvents) && run.Batches.TryRead(out RowBatch? batch))
        {
            run.MarkDequeued(batch);
            added += await WriteBatchAsync(run, batch, maxEvents, delivered + added, stream, CancellationToken.None);
        }

        return added;
    }

    private static async Task<ulong> WriteBatchAsync(TraceRun run, RowBatch batch, ulong maxEvents, ulong delivered, IServerStreamWriter<TraceReply> stream, CancellationToken token)
    {
        if (maxEvents > 0 && delivered + (ulong)batch.Count > maxEvents)
        {
            batch.Truncate((int)(maxEvents - delivered));
        }

        int written = batch.Count;
        if (written > 0)
        {
            // Serialized by the time the write completes (the message wraps the batch's buffer); a
            // write that throws leaves the batch to the collector.
            await stream.WriteAsync(new TraceReply { Batch = batch.ToMessage() }, token);
        }

        run.Recycle(batch);
        return (ulong)written;
    }
}
