// The raw HTTP/1.1 client lives in bench/ (the bench's faults section uses it too); tests import it from here.
export * from '../../bench/raw-http.js';
