package daemon

import "github.com/apphostd/apphostd/pkg/status"

// NotePull shows on an instance's resource that its image is being pulled
// (the containerd driver calls it from Start; the next status update
// replaces it).
func (d *Daemon) NotePull(instanceID, image string) {
	for _, r := range d.store.List() {
		for _, in := range r.Instances {
			if in.ID == instanceID {
				d.store.Update(r.Name, func(s *status.Resource) {
					s.State = status.Starting
					s.Reason = "pulling " + image
				})
				return
			}
		}
	}
}
