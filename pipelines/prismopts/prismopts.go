// Package prismopts holds what the pipelines need from Prism, the local
// runner: the one place its quirks are named.
package prismopts

// Experiments is what the streaming job needs from Prism, passed as
// --experiments (the streaming job, its tests, the local stack, the proof).
// prism_disable_sdf_split turns off every split Prism makes of a running
// bundle, not only of splittable DoFns: when a bundle makes no progress
// between two progress reports (a busy machine, a long Pull) Prism splits
// it, and a split bundle of a stateful stage loses track of its timers
// (apache/beam#35771): dedupe's forget timer then fired twice for one key
// (TestCountOnPrism on a loaded CI machine). Dataflow needs none of this.
const Experiments = "prism_disable_sdf_split"
