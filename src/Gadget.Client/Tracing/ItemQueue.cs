namespace Gadget.Tracing;

/// <summary>
/// A bounded queue of trace items between reader threads and the pipeline thread. A taker or an
/// adder that has to wait sleeps on a monitor at once, where BlockingCollection would first spin
/// and yield: on a small machine a fast trace leaves no idle core, and those spins were taken from
/// the agent and the traced workload.
/// </summary>
internal sealed class ItemQueue(int capacity)
{
    private readonly Queue<object> _items = new();
    private bool _addingCompleted;

    /// <summary>True once <see cref="CompleteAdding"/> was called and every item was taken.</summary>
    public bool IsCompleted
    {
        get
        {
            lock (_items)
            {
                return _addingCompleted && _items.Count == 0;
            }
        }
    }

    /// <summary>Adds an item, waiting while the queue is full.</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled while waiting.</exception>
    /// <exception cref="InvalidOperationException">Adding was completed.</exception>
    public void Add(object item, CancellationToken token)
    {
        lock (_items)
        {
            if (_items.Count >= capacity && !_addingCompleted)
            {
                CancellationTokenRegistration wake = token.Register(PulseAll);
                try
                {
                    while (_items.Count >= capacity && !_addingCompleted)
                    {
                        token.ThrowIfCancellationRequested();
                        Monitor.Wait(_items);
                    }
                }
                finally
                {
                    wake.Unregister(); // not Dispose: it would wait for a running PulseAll, which waits for this lock
                }
            }

            if (_addingCompleted)
            {
                throw new InvalidOperationException("The trace's queue no longer takes items.");
            }

            _items.Enqueue(item);
            if (_items.Count == 1)
            {
                Monitor.PulseAll(_items); // a taker may be waiting for the first item
            }
        }
    }

    /// <summary>
    /// Takes the oldest item, waiting up to <paramref name="timeout"/> for one. False on timeout,
    /// on cancellation, or when the queue is completed and empty.
    /// </summary>
    public bool TryTake(out object? item, TimeSpan timeout, CancellationToken token)
    {
        lock (_items)
        {
            if (_items.Count == 0 && !_addingCompleted)
            {
                long deadline = Environment.TickCount64 + (long)Math.Min(int.MaxValue, timeout.TotalMilliseconds);
                CancellationTokenRegistration wake = token.Register(PulseAll);
                try
                {
                    while (_items.Count == 0 && !_addingCompleted && !token.IsCancellationRequested)
                    {
                        long left = deadline - Environment.TickCount64;
                        if (left <= 0 || !Monitor.Wait(_items, (int)left))
                        {
                            break;
                        }
                    }
                }
                finally
                {
                    wake.Unregister();
                }
            }

            if (_items.Count == 0 || token.IsCancellationRequested)
            {
                item = null;
                return false;
            }

            item = _items.Dequeue();
            if (_items.Count == capacity - 1)
            {
                Monitor.PulseAll(_items); // an adder may be waiting for room
            }

            return true;
        }
    }

    /// <summary>No more items will be added; takers drain what is left, waiting adders give up.</summary>
    public void CompleteAdding()
    {
        lock (_items)
        {
            _addingCompleted = true;
            Monitor.PulseAll(_items);
        }
    }

    private void PulseAll()
    {
        lock (_items)
        {
            Monitor.PulseAll(_items);
        }
    }
}
