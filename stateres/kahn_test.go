package stateres

import (
	"slices"
	"testing"
)

// graphCSR turns edges (event -> its auth events) over named nodes into
// kahn's inputs.
func graphCSR(names []string, edges map[string][]string) (outdeg, cnt, citers []int32) {
	idx := map[string]int32{}
	for i, n := range names {
		idx[n] = int32(i)
	}
	outdeg = make([]int32, len(names))
	lists := make([][]int32, len(names))
	for from, tos := range edges {
		for _, to := range tos {
			outdeg[idx[from]]++
			lists[idx[to]] = append(lists[idx[to]], idx[from])
		}
	}
	cnt = make([]int32, len(names)+1)
	for i, l := range lists {
		cnt[i+1] = cnt[i] + int32(len(l))
		citers = append(citers, l...)
	}
	return
}

func TestKahn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []string
		edges map[string][]string
		want  []string // nil: a cycle leaves events out
	}{
		{
			// The reference implementation's lexicographical sort test:
			// ties broken by the node names.
			name:  "synapse lexicographical",
			nodes: []string{"l", "m", "n", "o", "p"},
			edges: map[string][]string{"l": {"o"}, "m": {"n", "o"}, "n": {"o"}, "p": {"o"}},
			want:  []string{"o", "l", "n", "m", "p"},
		},
		{
			name:  "chain against names",
			nodes: []string{"a", "b", "c"},
			edges: map[string][]string{"a": {"b"}, "b": {"c"}},
			want:  []string{"c", "b", "a"},
		},
		{
			name:  "independent",
			nodes: []string{"z", "y", "x"},
			edges: map[string][]string{},
			want:  []string{"x", "y", "z"},
		},
		{
			name:  "cycle",
			nodes: []string{"a", "b", "c"},
			edges: map[string][]string{"a": {"b"}, "b": {"a"}},
			want:  []string{"c"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outdeg, cnt, citers := graphCSR(tc.nodes, tc.edges)
			got := kahn(outdeg, cnt, citers, func(a, b int32) bool { return tc.nodes[a] < tc.nodes[b] })
			var names []string
			for _, i := range got {
				names = append(names, tc.nodes[i])
			}
			if !slices.Equal(names, tc.want) {
				t.Fatalf("got %v, want %v", names, tc.want)
			}
		})
	}
}
