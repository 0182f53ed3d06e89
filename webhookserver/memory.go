package webhookserver

// The receiver runs in the reconciler's process, and the memory its
// clients can make it hold is bounded by its options alone: WorstCaseMemory
// adds up every bound, and a test checks that the defaults fit the
// Deployment's memory limit with room for the reconciler.
const (
	// DeploymentMemoryLimit is the memory limit of the manager container in
	// config/manager (a test checks they agree).
	DeploymentMemoryLimit = 512 << 20
	// ReconcilerMemory is what the receiver's worst case must leave of the
	// memory limit to the reconciler, the informer caches and the Go
	// runtime.
	ReconcilerMemory = 192 << 20

	// connectionMemory is the most one open connection holds outside the
	// body budget: fasthttp's read buffer (maxHeaderBytes, which the headers
	// must fit) and write buffer, the request context with its copy of the
	// headers, the first 8 KiB of a body read before the handler runs, the
	// goroutine's stack, and a lingering close's discard buffer.
	connectionMemory = 96 << 10
	// idleConnectionMemory is the most an idle keep-alive connection holds:
	// its write and body buffers are released between requests
	// (ReduceMemoryUsage); fasthttp keeps the read buffer of a streaming
	// server.
	idleConnectionMemory = 24 << 10
	// queuedRecordMemory bounds one answered delivery waiting to be
	// recorded: its delivery status, and a pull request or an issue with
	// GitHub's bounded title and link key.
	queuedRecordMemory = 2 << 10
	// dedupeEntryMemory is one remembered delivery: its 16-byte key in the
	// map and the ring (52 bytes measured with the cache full,
	// TestDedupeCacheMemoryGrowsWithDeliveries).
	dedupeEntryMemory = 56
	// rejectSourceMemory is one source's rejected-request budget: a
	// rate.Limiter and its map entry.
	rejectSourceMemory = 160
)

// MemoryUse is the most memory the receiver holds, by what holds it.
type MemoryUse struct {
	// Bodies is the body budget: request bodies being read.
	Bodies int64
	// IdleBodyBuffers is the idle body buffers kept for reuse.
	IdleBodyBuffers int64
	// Connections is every open connection reading a request at once.
	Connections int64
	// RecordQueue is a full recording queue.
	RecordQueue int64
	// Dedupe is the remembered deliveries.
	Dedupe int64
	// RejectedSources is the per-source budgets of rejected requests.
	RejectedSources int64
}

// Total is the sum of all parts.
func (m MemoryUse) Total() int64 {
	return m.Bodies + m.IdleBodyBuffers + m.Connections + m.RecordQueue + m.Dedupe + m.RejectedSources
}

// WorstCaseMemory is the most memory the receiver holds with these options
// (unset ones defaulted) when every limit is reached at once: the body
// budget spent, every connection reading a request, the queue full, the
// dedupe cache and the rejected-request budgets of maxTrackedSources
// sources full.
func (o Options) WorstCaseMemory() MemoryUse {
	o = o.withDefaults()
	return MemoryUse{
		Bodies:          o.BodyBudget,
		IdleBodyBuffers: bodyIdleMemory,
		Connections:     int64(o.MaxConnections) * connectionMemory,
		RecordQueue:     int64(o.QueueSize) * queuedRecordMemory,
		Dedupe:          int64(o.DedupeSize) * dedupeEntryMemory,
		RejectedSources: maxTrackedSources * rejectSourceMemory,
	}
}
