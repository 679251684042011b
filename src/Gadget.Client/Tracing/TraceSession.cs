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

    private readonly ItemQueue _queue;
    private readonly ItemTaker _taker;
    private readonly CancellationTokenSource _cancel;
    private readonly Task _reader;
    private readonly string _node;

    private TraceSession(AgentConnection connection, TraceOptions options, string node, CancellationToken token)
    {
        _node = node;
        Target = connection.Target;
        _queue = new ItemQueue(SlotsFor(options));
        _taker = new ItemTaker(_queue);
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
    public bool TryTake(out object? item, TimeSpan timeout, CancellationToken token) => _taker.TryTake(out item, timeout, token);

    /// <summary>True once the stream has ended and the queue is empty.</summary>
    public bool IsCompleted => _taker.IsCompleted;

    /// <summary>Queue slots for a trace's queue capacity in events.</summary>
    internal static int SlotsFor(TraceOptions options) => Math.Max(2, options.QueueCapacity / ChunkEvents);

    /// <summary>
    /// As <see cref="TryTake"/>, but a chunk of events comes whole, as a <see cref="GadgetEvent"/>[]:
    /// for a merger that forwards the items to a queue of its own. Never mixed with <see cref="TryTake"/>.
    /// </summary>
    internal bool TryTakeSlot(out object? item, TimeSpan timeout, CancellationToken token) => _queue.TryTake(out item, timeout, token);

    /// <summary>True once the stream has ended and every slot was taken (for <see cref="TryTakeSlot"/>).</summary>
    internal bool AllSlotsTaken => _queue.IsCompleted;

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
    }

    private async Task ReadAsync(AgentConnection connection, TraceRequest request, EventOrigin origin)
    {
        CancellationToken token = _cancel.Token;
        bool streaming = false;
        using var firstReply = new FirstReplyDeadline(connection.Connected, AgentConnection.FirstReplyTimeout);
        using var callCancel = CancellationTokenSource.CreateLinkedTokenSource(token, firstReply.Token);
        try
        {
            var decoder = new TraceReplyDecoder(origin);
            using AsyncServerStreamingCall<TraceReplyBytes> call = connection.Invoker.AsyncServerStreamingCall(
                TraceReplyDecoder.TraceMethod, host: null, new CallOptions(cancellationToken: callCancel.Token), request);
            while (await call.ResponseStream.MoveNext(callCancel.Token).ConfigureAwait(false))
            {
                firstReply.Disarm();
                TraceFrame frame;
                using (TraceReplyBytes reply = call.ResponseStream.Current)
                {
                    frame = decoder.Decode(reply.Span);
                }

                streaming = true;
                _attached.TrySetResult();
                foreach (GadgetEvent[] chunk in frame.Chunks)
                {
                    _queue.Add(chunk, token);
                }

                if (frame.Window is not null)
                {
                    _queue.Add(frame.Window, token);
                }

                if (frame.Notice is not null)
                {
                    _queue.Add(frame.Notice, token);
                }

                if (frame.Statistics is not null)
                {
                    Statistics = frame.Statistics;
                    _queue.Add(frame.Statistics, token);
                }
            }
        }
        catch (Exception exception) when (firstReply.Expired && !token.IsCancellationRequested && exception is OperationCanceledException or RpcException)
        {
            // The agent took the request and then sent nothing (its trace start hangs); cancelling
            // the call has told it to give up.
            TryAddFinal((GadgetException)DeadlineStream.Unresponsive(connection.Target, AgentConnection.FirstReplyTimeout, "sent no reply to the trace").InnerException!);
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
        catch (GadgetException exception)
        {
            TryAddFinal(exception);
        }
        catch (Exception exception) when (exception is InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
        {
            TryAddFinal(new GadgetException(GadgetErrorId.AgentReplyMalformed, GadgetErrorKind.Failure,
                $"The agent at {connection.Target} sent a trace message this client cannot decode: {exception.Message}", exception)
            {
                RecommendedAction = "Use a client and an agent of the same Gadget version.",
            });
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

    /// <summary>
    /// Cancels its token when the agent's first message has not come <c>timeout</c> after the
    /// connection is up; <see cref="Disarm"/> when it has.
    /// </summary>
    private sealed class FirstReplyDeadline : IDisposable
    {
        private readonly CancellationTokenSource _expired = new();
        private readonly object _gate = new();
        private bool _done;

        public FirstReplyDeadline(Task connected, TimeSpan timeout)
            => connected.ContinueWith(
                _ =>
                {
                    lock (_gate)
                    {
                        if (!_done)
                        {
                            _expired.CancelAfter(timeout);
                        }
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);

        public CancellationToken Token => _expired.Token;

        public bool Expired => _expired.IsCancellationRequested;

        public void Disarm()
        {
            if (_done)
            {
                return;
            }

            lock (_gate)
            {
                _done = true;
                if (!_expired.IsCancellationRequested)
                {
                    _expired.CancelAfter(Timeout.InfiniteTimeSpan);
                }
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _done = true;
                _expired.Dispose();
            }
        }
    }
}
