using System.Collections.Concurrent;
using Gadget.Connection;
using Gadget.Protocol.V1;
using Grpc.Core;

namespace Gadget.Tracing;

/// <summary>
/// One trace against one agent. A background task reads the stream, builds the typed events off
/// the caller's thread and puts them in a bounded queue, a chunk of events per slot (a lock and a
/// wake-up per chunk, not per event); the caller (the pipeline thread) takes them one by one
/// with <see cref="TryTake"/>. When the queue is full the reader waits, the stream's flow
/// control pushes back to the agent, and the agent counts what it cannot queue. Nothing is
/// dropped silently.
/// </summary>
public sealed class TraceSession : ITraceSource
{
    /// <summary>Most events in one queue slot; the queue holds QueueCapacity / ChunkEvents slots.</summary>
    internal const int ChunkEvents = 512;

    private readonly BlockingCollection<object> _queue;
    private GadgetEvent[]? _chunk;
    private int _chunkNext;
    private readonly CancellationTokenSource _cancel;
    private readonly Task _reader;
    private readonly string _node;

    private TraceSession(AgentConnection connection, TraceOptions options, string node, CancellationToken token)
    {
        _node = node;
        Target = connection.Target;
        _queue = new BlockingCollection<object>(new ConcurrentQueue<object>(), Math.Max(2, options.QueueCapacity / ChunkEvents));
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(token);
        _reader = Task.Run(() => ReadAsync(connection, options.ToRequest(), new EventOrigin(node)), CancellationToken.None);
    }

    private readonly TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes when the agent has attached the programs (its first message), or the stream
    /// ended without that; from then on nothing the traced processes do is missed.
    /// </summary>
    public Task Attached => _attached.Task;

    /// <summary>The agent the trace runs on (a socket path, a pod name), as its connection names it.</summary>
    public string Target { get; }

    /// <summary>The latest counters the agent sent.</summary>
    public TraceStatistics? Statistics { get; private set; }

    IEnumerable<TraceStatistics> ITraceSource.Statistics => Statistics is null ? [] : [Statistics];

    /// <summary>Starts the trace. Failures to start arrive as the first item (a <see cref="GadgetException"/>).</summary>
    public static TraceSession Start(AgentConnection connection, TraceOptions options, string node, CancellationToken token)
        => new(connection, options, node, token);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next item: a <see cref="GadgetEvent"/>, a
    /// <see cref="TraceStatistics"/>, a <see cref="TraceNotice"/>, or a <see cref="GadgetException"/>
    /// that ends the trace.
    /// False on timeout, or when the trace has ended and everything was taken (<see cref="IsCompleted"/>).
    /// </summary>
    /// <remarks>Call from one thread at a time.</remarks>
    public bool TryTake(out object? item, TimeSpan timeout, CancellationToken token)
    {
        if (_chunk is not null)
        {
            item = _chunk[_chunkNext++];
            if (_chunkNext == _chunk.Length)
            {
                _chunk = null;
            }

            return true;
        }

        try
        {
            if (!_queue.TryTake(out item, (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds), token))
            {
                return false;
            }

            if (item is GadgetEvent[] chunk)
            {
                item = chunk[0];
                if (chunk.Length > 1)
                {
                    _chunk = chunk;
                    _chunkNext = 1;
                }
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            item = null;
            return false;
        }
    }

    /// <summary>True once the stream has ended and the queue is empty.</summary>
    public bool IsCompleted => _chunk is null && _queue.IsCompleted;

    /// <summary>Cancels the stream (the agent then detaches the programs) and waits for the reader.</summary>
    public void Dispose()
    {
        _cancel.Cancel();
        try
        {
            _reader.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The reader reports its failures through the queue.
        }

        _cancel.Dispose();
        _queue.Dispose();
    }

    private async Task ReadAsync(AgentConnection connection, TraceRequest request, EventOrigin origin)
    {
        CancellationToken token = _cancel.Token;
        bool streaming = false;
        try
        {
            using AsyncServerStreamingCall<TraceReply> call = connection.Client.Trace(request, cancellationToken: token);
            while (await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
            {
                TraceReply reply = call.ResponseStream.Current;
                streaming = true;
                _attached.TrySetResult();
                if (reply.KindCase == TraceReply.KindOneofCase.Batch)
                {
                    foreach (ContainerInfo container in reply.Batch.Containers)
                    {
                        origin.Learn(new GadgetContainer(container, origin.Node));
                    }

                    AddEvents(reply.Batch.Events, origin, token);
                }
                else if (reply.KindCase == TraceReply.KindOneofCase.Notice)
                {
                    _queue.Add(new TraceNotice(_node, reply.Notice.Id, reply.Notice.Message), token);
                }
                else if (reply.KindCase == TraceReply.KindOneofCase.Counters)
                {
                    var statistics = new TraceStatistics(_node, reply.Counters);
                    Statistics = statistics;
                    _queue.Add(statistics, token);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped by the caller: nothing to report.
        }
        catch (RpcException exception) when (exception.StatusCode == StatusCode.Cancelled && token.IsCancellationRequested)
        {
            // Same, as gRPC reports it.
        }
        catch (RpcException exception)
        {
            TryAddFinal(RpcErrors.ToGadgetException(exception, connection.Target, streaming));
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException)
        {
            TryAddFinal(new GadgetException(GadgetErrorId.AgentStreamBroken, GadgetErrorKind.Connection,
                $"The connection to the agent at {connection.Target} broke: {exception.Message}", exception));
        }
        finally
        {
            _attached.TrySetResult();
            _queue.CompleteAdding();
        }
    }

    /// <summary>Builds the typed events of a batch and queues them a chunk at a time.</summary>
    private void AddEvents(Google.Protobuf.Collections.RepeatedField<Event> events, EventOrigin origin, CancellationToken token)
    {
        for (int start = 0; start < events.Count; start += ChunkEvents)
        {
            int end = Math.Min(events.Count, start + ChunkEvents);
            var chunk = new GadgetEvent[end - start];
            int count = 0;
            for (int i = start; i < end; i++)
            {
                if (EventFactory.Create(events[i], origin) is GadgetEvent typed)
                {
                    chunk[count++] = typed;
                }
            }

            if (count > 0)
            {
                _queue.Add(count == chunk.Length ? chunk : chunk[..count], token);
            }
        }
    }

    private void TryAddFinal(GadgetException exception)
    {
        try
        {
            _queue.Add(exception, _cancel.Token);
        }
        catch (OperationCanceledException)
        {
            // The caller has gone; nobody is left to tell.
        }
    }
}
